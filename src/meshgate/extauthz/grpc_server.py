"""Envoy ext_authz gRPC v3 (`envoy.service.auth.v3.Authorization/Check`), the server side.

Needs the `meshgate[extauthz]` extra (grpcio + xds-protos). A Decision becomes a CheckResponse:
allowed → `OK` with `ok_response` (upstream headers to set, headers to remove, the query parameters of a
verified token that is not forwarded); denied →
`PERMISSION_DENIED` (`UNAUTHENTICATED` for 401) with a `denied_response` carrying Envoy's exact
status, body and `www-authenticate`, which Envoy's ext_authz filter sends as its local reply
(envoyproxy/envoy api/envoy/service/auth/v3/external_auth.proto; source/extensions/filters/http/ext_authz).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

from meshgate.authn.query import removed_names
from meshgate.engine.decision import Decision
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE
from meshgate.extauthz.attributes import attributes_from_check
from meshgate.extauthz.decide import ExtAuthzDecider

log = logging.getLogger("meshgate.extauthz")

OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


def _header(name: str, value: str, action: int = OVERWRITE) -> Any:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=name, value=value), append_action=action
    )


def check_response(decision: Decision) -> Any:
    """Decision → CheckResponse: OK + upstream edits, or the denial Envoy should send as is."""
    if decision.allowed:
        edits = decision.upstream
        set_pairs = edits.set if edits is not None else ()
        set_names = {name for name, _ in set_pairs}
        remove = [n for n in (edits.remove if edits is not None else ()) if n not in set_names]
        # a verified token's query parameter: Envoy's ext_authz filter rewrites `:path` (ext_authz.cc)
        params = removed_names(decision.path, edits.path) if edits is not None and decision.path else ()
        ok = external_auth_pb2.OkHttpResponse(
            headers=[_header(n, v) for n, v in set_pairs],
            headers_to_remove=remove,
            query_parameters_to_remove=params,
        )
        return external_auth_pb2.CheckResponse(status=status_pb2.Status(code=code_pb2.OK), ok_response=ok)
    code = code_pb2.UNAUTHENTICATED if decision.status == 401 else code_pb2.PERMISSION_DENIED
    headers = [_header(n, v) for n, v in decision.headers]
    if decision.body and decision.content_type != LOCAL_REPLY_CONTENT_TYPE:
        headers.append(_header("content-type", decision.content_type))
    denied = external_auth_pb2.DeniedHttpResponse(
        status=http_status_pb2.HttpStatus(code=decision.status), headers=headers, body=decision.body
    )
    return external_auth_pb2.CheckResponse(status=status_pb2.Status(code=code), denied_response=denied)


class AuthorizationService(external_auth_pb2_grpc.AuthorizationServicer):  # type: ignore[misc]
    """The Check RPC over the shared decider."""

    def __init__(self, decider: ExtAuthzDecider) -> None:
        self.decider = decider

    async def Check(self, request: Any, context: Any) -> Any:
        started = time.perf_counter()
        try:
            req = attributes_from_check(request)
            decision = await self.decider.decide(req)
        except Exception:  # a bug must not answer "allowed": Envoy applies its failure mode (closed)
            log.exception("ext_authz Check failed")
            await context.abort(grpc.StatusCode.INTERNAL, "meshgate internal error")
            raise
        self.decider.record(req, decision, started, request.attributes.request.http.protocol or "HTTP/1.1")
        return check_response(decision)


async def start_grpc_server(decider: ExtAuthzDecider, host: str, port: int) -> tuple[Any, int]:
    """Listen on host:port (0 picks a free port); returns the started `grpc.aio.Server` and its port."""
    server = grpc.aio.server()
    external_auth_pb2_grpc.add_AuthorizationServicer_to_server(AuthorizationService(decider), server)
    bound = server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if not bound:
        raise OSError(f"cannot listen on {host}:{port} (gRPC)")
    await server.start()
    return server, bound
