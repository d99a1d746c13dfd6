"""Asking an `envoyExtAuthzGrpc` provider: a CheckRequest as Envoy builds it, its answer as Envoy reads it.

Needs the `meshgate[extauthz]` extra (grpcio + xds-protos); only a mesh config with a gRPC provider loads
this module. Sources: envoyproxy/envoy api/envoy/service/auth/v3/external_auth.proto and
source/extensions/filters/common/ext_authz/grpc_client_impl.cc (OK allows, anything else denies).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from envoy.config.core.v3 import address_pb2
from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from google.rpc import code_pb2

from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.custom.verdict import ProviderVerdict, failed
from meshgate.engine.attributes import RequestAttributes

DEFAULT_DENIED_STATUS = 403  # Envoy: a denial without denied_response.status is 403 Forbidden


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
