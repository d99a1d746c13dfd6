"""gRPC through meshgate as the ingress: a grpcio client speaks h2c to a Gateway's listener, the VirtualService
routes to a ServiceEntry whose port protocol is GRPC (or HTTP2), and meshgate talks HTTP/2 to the endpoint —
as Istio does for those protocols (istio/istio:pkg/config/protocol/instance.go IsHTTP2). The destination
workload's policies (the seed's, on `app: frontend`) answer a call without a token as Envoy answers gRPC:
PERMISSION_DENIED `RBAC: access denied` (tests/support/h2_facts.py, pinned on Envoy 1.40).

A router that ignored the port protocol would send HTTP/1.1 to the grpcio server: the `HTTP` row shows
that call failing, so the GRPC/HTTP2 rows fail too if the HTTP/2 pool is not chosen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from tests.ingress.conftest import DEMO_JWT, StaticJwks, call, example_config, free_port, start_gateway
from tests.support.grpc_servers import (
    HEALTH_CHECK,
    HEALTH_WATCH,
    SERVING,
    GrpcServer,
    bearer,
    call_stream,
    call_unary,
    channel,
    health_request,
    health_status,
)


@pytest.fixture
def grpc_server() -> Iterator[GrpcServer]:
    server = GrpcServer().start()
    yield server
    server.stop()


def grpc_config(directory: Path, gateway_port: int, server_port: int, jwks_uri: str, protocol: str) -> Path:
    """examples/ingress with the frontend's ServiceEntry port speaking `protocol`, its endpoint the server."""
    config = example_config(
        directory, gateway_port=gateway_port, frontend_port=server_port, jwks_uri=jwks_uri
    )
    entry = config / "service-entry.yaml"
    entry.write_text(entry.read_text().replace("protocol: HTTP", f"protocol: {protocol}"))
    return config


@pytest.mark.parametrize("protocol", ["GRPC", "HTTP2", "grpc"])
def test_grpc_calls_routed_to_an_http2_service_entry_port(
    tmp_path: Path, jwks: StaticJwks, grpc_server: GrpcServer, protocol: str
) -> None:
    port = free_port()
    gateway = start_gateway(grpc_config(tmp_path / "c", port, grpc_server.port, jwks.url, protocol))
    try:
        with channel(port, authority="frontend.example.com") as ch:
            allowed = call_unary(ch, HEALTH_CHECK, health_request(), bearer(DEMO_JWT))
            assert allowed.code == grpc.StatusCode.OK, allowed.details
            assert health_status(allowed.messages[0]) == SERVING
            watched = call_stream(ch, HEALTH_WATCH, health_request(), bearer(DEMO_JWT), limit=1)
            assert [health_status(m) for m in watched.messages] == [SERVING]
            denied = call_unary(ch, HEALTH_CHECK, health_request())
            assert (denied.code, denied.details) == (grpc.StatusCode.PERMISSION_DENIED, "RBAC: access denied")
    finally:
        gateway.stop()


def test_an_http_service_entry_port_is_spoken_to_in_http1(
    tmp_path: Path, jwks: StaticJwks, grpc_server: GrpcServer
) -> None:
    """The control row: protocol HTTP means HTTP/1.1 upstream, which a gRPC server does not answer."""
    port = free_port()
    gateway = start_gateway(grpc_config(tmp_path / "c", port, grpc_server.port, jwks.url, "HTTP"))
    try:
        with channel(port, authority="frontend.example.com") as ch:
            outcome = call_unary(ch, HEALTH_CHECK, health_request(), bearer(DEMO_JWT))
            assert outcome.code != grpc.StatusCode.OK
    finally:
        gateway.stop()


def test_the_destination_hops_grpc_denial_reaches_an_http1_client_framed(
    tmp_path: Path, jwks: StaticJwks, grpc_server: GrpcServer
) -> None:
    """gRPC over HTTP/1.1, denied at the destination hop: the sidecar's trailers-only reply relayed as a
    headers-only response, which Envoy's HTTP/1 codec frames with `content-length: 0` (without it the client
    would wait for the connection to close)."""
    port = free_port()
    gateway = start_gateway(grpc_config(tmp_path / "c", port, grpc_server.port, jwks.url, "GRPC"))
    try:
        reply = call(port, HEALTH_CHECK, method="POST", headers={"content-type": "application/grpc"})
        assert reply.status == 200
        assert reply.header("grpc-status") == "7"
        assert reply.header("grpc-message") == "RBAC: access denied"
        assert reply.header("content-length") == "0"
        names = [name for name, _ in reply.headers]
        assert names == [
            "content-type", "grpc-status", "grpc-message", "date", "server", "x-envoy-upstream-service-time",
            "connection", "content-length",
        ]  # fmt: skip
    finally:
        gateway.stop()
