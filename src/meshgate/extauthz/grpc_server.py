"""Envoy ext_authz gRPC v3 (`envoy.service.auth.v3.Authorization/Check`): server, and client for CUSTOM.

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
from collections.abc import Mapping
from typing import Any

import grpc
from envoy.config.core.v3 import address_pb2, base_pb2
from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

from meshgate.authn.query import removed_names
from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.custom.providers import ProviderVerdict, failed
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.decision import Decision
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE
from meshgate.extauthz.attributes import attributes_from_check
from meshgate.extauthz.decide import ExtAuthzDecider

log = logging.getLogger("meshgate.extauthz")

SERVICE_NAME = "envoy.service.auth.v3.Authorization"  # external_auth.proto
OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
DEFAULT_DENIED_STATUS = 403  # Envoy: a denial without denied_response.status is 403 Forbidden


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
        params = removed_names(decision.trace.path, edits.path) if edits is not None else ()
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


# -- client side (CUSTOM envoyExtAuthzGrpc providers, tests, benchmarks) -------------------------------


def _address(ip: str, port: int) -> Any:
    return address_pb2.Address(socket_address=address_pb2.SocketAddress(address=ip, port_value=port))


def check_request(attrs: RequestAttributes, context_extensions: Mapping[str, str] | None = None) -> Any:
    """RequestAttributes → CheckRequest as Envoy builds it (pseudo-headers in the header map)."""
    headers = {":authority": attrs.authority, ":method": attrs.method, ":path": attrs.path}
    for name, values in attrs.headers.items():
        if name != "host":
            headers[name] = ",".join(values)
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        method=attrs.method,
        path=attrs.path,
        host=attrs.authority,
        scheme=attrs.scheme,
        headers=headers,
        protocol="HTTP/1.1",
    )
    ctx = attribute_context_pb2.AttributeContext(
        source=attribute_context_pb2.AttributeContext.Peer(address=_address(attrs.peer_ip, 0)),
        destination=attribute_context_pb2.AttributeContext.Peer(
            address=_address(attrs.local_ip, attrs.local_port)
        ),
        request=attribute_context_pb2.AttributeContext.Request(http=http),
        context_extensions=dict(context_extensions or {}),
    )
    if attrs.sni:
        ctx.tls_session.sni = attrs.sni
    return external_auth_pb2.CheckRequest(attributes=ctx)


def verdict_from_check_response(response: Any) -> ProviderVerdict:
    """What Envoy does with a CheckResponse (ext_authz grpc_client_impl.cc): OK allows, else denies."""
    if response.status.code == code_pb2.OK:
        ok = response.ok_response
        upstream = tuple((h.header.key.lower(), h.header.value) for h in ok.headers)
        return ProviderVerdict(
            True, upstream_set=upstream, upstream_remove=tuple(n.lower() for n in ok.headers_to_remove)
        )
    denied = response.denied_response
    pairs = [(h.header.key.lower(), h.header.value) for h in denied.headers]
    content_type = next((v for n, v in pairs if n == "content-type"), "text/plain")
    headers = tuple((n, v) for n, v in pairs if n not in ("content-type", "content-length"))
    return ProviderVerdict(
        False,
        int(denied.status.code) or DEFAULT_DENIED_STATUS,
        denied.body,
        headers,
        content_type=content_type,
    )


async def grpc_check(provider: ExtAuthzProvider, attrs: RequestAttributes, channel: Any) -> ProviderVerdict:
    """Ask an `envoyExtAuthzGrpc` provider; transport failures and timeouts fail open or closed."""
    stub = external_auth_pb2_grpc.AuthorizationStub(channel)
    try:
        response = await stub.Check(check_request(attrs), timeout=provider.timeout_s)
    except grpc.aio.AioRpcError as exc:
        return failed(provider, f"gRPC {exc.code().name}: {exc.details() or ''}".rstrip(": "))
    return verdict_from_check_response(response)
