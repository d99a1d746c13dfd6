"""Routing through the real `meshgate serve` as the ingress, two workloads with their own policies.

Istio's model (istio.io "Ingress Gateways", "Authorization on ingress"): the gateway picks the route, the
destination workload's sidecar applies that workload's policies to the request as the gateway forwards it
(rewritten path included). Envoy's routing (envoyproxy/envoy:source/common/router/config_impl.cc): no virtual
host or no route → 404 with an empty body; weighted clusters pick `random % total`. The frontend workload
has no policy (allowed); the api workload allows GET on `/v2/*` and `/split` only, so its answers prove
which workload's sidecar decided.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.ingress.conftest import Reply, call, free_port, start_gateway
from tests.support.servers import GatewayThread, Upstream

CONFIG = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: @PORT@, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: frontend, namespace: default}
spec:
  hosts: [frontend.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: @FRONT@}, labels: {app: frontend}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: @API@}, labels: {app: api}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pair, namespace: default}
spec:
  hosts: [pair.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: @FRONT@}, labels: {app: pair}}
  - {address: 127.0.0.1, ports: {http: @API@}, labels: {app: pair}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: empty, namespace: default}
spec:
  hosts: [empty.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example]
  gateways: [istio-system/gw]
  http:
  - name: canary
    match: [{headers: {x-canary: {exact: "yes"}}}]
    route: [{destination: {host: api.default.svc.cluster.local}}]
  - name: api
    match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v2/}
    route: [{destination: {host: api.default.svc.cluster.local}}]
  - name: split
    match: [{uri: {prefix: /split}}]
    route:
    - {destination: {host: frontend.default.svc.cluster.local}, weight: 25}
    - {destination: {host: api.default.svc.cluster.local}, weight: 75}
  - name: pair
    match: [{uri: {prefix: /pair}}]
    route: [{destination: {host: pair.default.svc.cluster.local}}]
  - name: slow
    match: [{uri: {prefix: /slow}}]
    timeout: 0.3s
    route: [{destination: {host: frontend.default.svc.cluster.local}}]
  - name: empty
    match: [{uri: {prefix: /empty}}]
    route: [{destination: {host: empty.default.svc.cluster.local}}]
  - name: web
    match: [{uri: {prefix: /web}}]
    headers: {response: {set: {x-route: web}}}
    route: [{destination: {host: frontend.default.svc.cluster.local}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api-v2-only, namespace: default}
spec:
  selector: {matchLabels: {app: api}}
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET], paths: ["/v2/*", /split]}}]
"""


@dataclass
class World:
    port: int
    frontend: Upstream
    api: Upstream
    gateway: GatewayThread

    def send(self, path: str, **kw: object) -> tuple[Reply, str]:
        """The reply and which upstream received the request ("-": none)."""
        before = len(self.frontend.seen), len(self.api.seen)
        reply = call(self.port, path, **kw)  # type: ignore[arg-type]
        after = len(self.frontend.seen), len(self.api.seen)
        return reply, {(1, 0): "frontend", (0, 1): "api", (0, 0): "-"}[
            (after[0] - before[0], after[1] - before[1])
        ]

    def routers(self) -> list[object]:
        listeners = self.gateway.gateway.listeners
        assert listeners is not None
        return [o.router for o in listeners.open.values()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    frontend, api = Upstream().start(), Upstream().start()
    port = free_port()
    config = tmp_path_factory.mktemp("routes")
    text = CONFIG.replace("@PORT@", str(port)).replace("@FRONT@", str(frontend.port))
    (config / "routes.yaml").write_text(text.replace("@API@", str(api.port)))
    gateway = start_gateway(config, access_log_format="off")
    yield World(port, frontend, api, gateway)
    gateway.stop()
    frontend.stop()
    api.stop()


@pytest.mark.parametrize(
    ("behaviour", "method", "path", "host", "headers", "status", "upstream", "received"),
    [
        ("prefix route to the frontend (no policy: allowed)", "GET", "/web/x", "shop.example", {}, 200,
         "frontend", "/web/x"),
        ("host port stripped to pick the virtual host", "GET", "/web/x", "shop.example:80", {}, 200,
         "frontend", "/web/x"),
        ("prefix rewrite /api/ → /v2/: the api sidecar allows the rewritten path", "GET", "/api/items?q=1",
         "shop.example", {}, 200, "api", "/v2/items?q=1"),
        ("the api workload's own policy at its sidecar: POST is not allowed", "POST", "/api/items",
         "shop.example", {}, 403, "-", None),
        ("header match routes to api (its policy allows /v2/*)", "GET", "/v2/x", "shop.example",
         {"x-canary": "yes"}, 200, "api", "/v2/x"),
        ("header match routes to api, whose policy denies /web/x", "GET", "/web/x", "shop.example",
         {"x-canary": "yes"}, 403, "-", None),
        ("header value differs: no header route, the prefix route", "GET", "/web/x", "shop.example",
         {"x-canary": "no"}, 200, "frontend", "/web/x"),
        ("no virtual host for the Host: 404, empty body", "GET", "/web/x", "other.example", {}, 404, "-", None),
        ("no route for the path: 404, empty body", "GET", "/nothing", "shop.example", {}, 404, "-", None),
        ("a cluster without endpoints: 503 no healthy upstream (router.cc)", "GET", "/empty", "shop.example", {},
         503, "-", None),
    ],
)  # fmt: skip
def test_routes(
    world: World,
    behaviour: str,
    method: str,
    path: str,
    host: str,
    headers: dict[str, str],
    status: int,
    upstream: str,
    received: str | None,
) -> None:
    reply, served = world.send(path, host=host, method=method, headers=headers)
    assert (reply.status, served) == (status, upstream), behaviour
    if received is not None:
        assert json.loads(reply.body)["path"] == received
    if status == 404:
        assert reply.body == b"" and reply.header("content-length") == "0"
    if status == 403:
        assert reply.body == b"RBAC: access denied"
    if status == 503:
        assert reply.body == b"no healthy upstream"


def test_rewrite_sends_envoys_original_path(world: World) -> None:
    """Envoy's router adds x-envoy-original-path after a prefix rewrite (the sidecar and upstream see it)."""
    call(world.port, "/api/one", host="shop.example")
    assert world.api.seen[-1].header("x-envoy-original-path") == ["/api/one"]


def test_response_header_edits(world: World) -> None:
    assert call(world.port, "/web/edit", host="shop.example").header("x-route") == "web"


@pytest.mark.parametrize(
    ("random", "upstream"),
    [(0, "frontend"), (24, "frontend"), (25, "api"), (99, "api"), (124, "frontend")],
)
def test_weights_pick_random_mod_total(world: World, random: int, upstream: str) -> None:
    """pickWeightedCluster: `random % 100` below 25 is the first destination (weight 25), else the second."""
    routers = world.routers()
    saved = [r.random for r in routers]  # type: ignore[attr-defined]
    for router in routers:
        router.random = lambda: random  # type: ignore[attr-defined]
    try:
        assert world.send("/split", host="shop.example")[1] == upstream
    finally:
        for router, original in zip(routers, saved, strict=True):
            router.random = original  # type: ignore[attr-defined]


def test_weights_statistically(world: World) -> None:
    """With the real random source, about a quarter goes to the weight-25 destination (400 requests: mean
    100, σ ≈ 8.7; the bounds are > 4σ away) — and both destinations are used."""
    before = len(world.frontend.seen)
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    try:
        for _ in range(400):
            conn.request("GET", "/split", headers={"Host": "shop.example"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
    finally:
        conn.close()
    assert 60 <= len(world.frontend.seen) - before <= 140


def test_round_robin_across_endpoints(world: World) -> None:
    """A cluster's endpoints take turns (one pool per endpoint, connections kept alive)."""
    picked = []
    for i in range(4):
        reply, served = world.send(f"/pair/{i}", host="shop.example")
        assert reply.status == 200
        picked.append(served)
    assert picked[0] != picked[1] and picked[0::2] == [picked[0]] * 2 and picked[1::2] == [picked[1]] * 2


def test_route_timeout(world: World) -> None:
    """The route's `timeout` is Envoy's route timeout: 504 `upstream request timeout` (router.cc)."""
    reply, _ = world.send("/slow?s=2", host="shop.example")
    assert (reply.status, reply.body) == (504, b"upstream request timeout")


def test_access_log_names_cluster_and_route(tmp_path: Path) -> None:
    """Istio's access log fields %UPSTREAM_CLUSTER_RAW% and %ROUTE_NAME% (the http[].name) for routed
    requests, in the text line after %UPSTREAM_HOST% and as JSON keys; `-` / null where there is none."""
    frontend, api = Upstream().start(), Upstream().start()
    port = free_port()
    text = CONFIG.replace("@PORT@", str(port)).replace("@FRONT@", str(frontend.port))
    (tmp_path / "routes.yaml").write_text(text.replace("@API@", str(api.port)))
    gateway = start_gateway(tmp_path, access_log_format="json")
    try:
        call(port, "/web/log", host="shop.example")
        call(port, "/nothing", host="shop.example")
        time.sleep(1.2)  # flushed once a second
        lines = [json.loads(line) for line in gateway.log.getvalue().splitlines()]
        web, missing = lines[-2], lines[-1]
        assert (web["upstream_cluster"], web["route_name"]) == ("outbound|80||frontend.default.svc.cluster.local",
                                                                "web")  # fmt: skip
        assert web["upstream_host"] == f"127.0.0.1:{frontend.port}"
        assert (missing["response_code"], missing["upstream_cluster"], missing["route_name"]) == (
            404,
            None,
            None,
        )
    finally:
        gateway.stop()
        frontend.stop()
        api.stop()
