"""The phase-1 gRPC rows that need host routing, asserted against meshgate as the ingress: a gRPC request
for a host no VirtualService serves (404 → 12 UNIMPLEMENTED, no grpc-message) and a VirtualService
directResponse (418 → 2 UNKNOWN, the body percent-encoded) — the same rows tests/parity/
test_grpc_envoy_facts.py pins on a real Envoy 1.40 (tests/support/h2_facts.py GRPC_LOCAL_REPLIES).

The seed's policies select the gateway workload itself (`app: frontend`, which the Gateway selects), so the
gateway hop decides as the phase-1 Envoy did before routing; a demo.jwt request reaches the route step.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.ingress.conftest import free_port, start_gateway
from tests.support.grpc_servers import GrpcServer, bearer, grpc_frame, health_request
from tests.support.h2_client import H2Client
from tests.support.h2_facts import (
    DIRECT_BODY,
    DIRECT_HOST,
    GRPC_HOST,
    GRPC_LOCAL_REPLIES,
    TOKENS,
    GrpcRow,
    matches,
)
from tests.support.h2_meshgate import seed_with_inline_jwks

ROUTED = ("no virtual host", "directResponse")
ROWS = [r for r in GRPC_LOCAL_REPLIES if r.name.startswith(ROUTED)]

ROUTES = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  selector: {{app: frontend}}
  servers: [{{port: {{number: {port}, name: http, protocol: HTTP}}, hosts: ["*"]}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: grpc, namespace: default}}
spec:
  hosts: [{grpc_host}]
  gateways: [gw]
  http: [{{route: [{{destination: {{host: grpc.default.svc.cluster.local, port: {{number: 50051}}}}}}]}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: direct, namespace: default}}
spec:
  hosts: [{direct_host}]
  gateways: [gw]
  http: [{{directResponse: {{status: 418, body: {{string: {direct_body}}}}}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: grpc, namespace: default}}
spec:
  hosts: [grpc.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{{number: 50051, name: grpc, protocol: GRPC}}]
  resolution: STATIC
  endpoints: [{{address: 127.0.0.1, ports: {{grpc: {grpc_port}}}, labels: {{app: grpc}}}}]
"""


@pytest.fixture(scope="module")
def ingress_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server = GrpcServer().start()
    directory = Path(seed_with_inline_jwks(tmp_path_factory.mktemp("routed") / "config"))
    port = free_port()
    (directory / "routes.yaml").write_text(
        ROUTES.format(port=port, grpc_host=GRPC_HOST, direct_host=DIRECT_HOST,
                      direct_body=json.dumps(DIRECT_BODY), grpc_port=server.port)
    )  # fmt: skip
    gateway = start_gateway(directory, namespace="default", labels={"app": "frontend"})
    try:
        yield port
    finally:
        gateway.stop()
        server.stop()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_routed_grpc_local_reply_over_h2c(ingress_port: int, row: GrpcRow) -> None:
    headers = [("content-type", row.content_type), ("te", "trailers"), *bearer(TOKENS[row.token]), *row.extra]
    with H2Client(ingress_port) as client:
        r = client.exchange(row.method, row.path, row.authority, headers, grpc_frame(health_request()))
    assert matches(r.headers, row.headers), r.headers
    assert (r.headers_ended_stream, r.data, r.trailers, r.reset) == (True, b"", None, None)


def test_both_routed_rows_are_here() -> None:
    assert len(ROWS) == 2
