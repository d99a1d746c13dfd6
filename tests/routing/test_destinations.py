"""What a chosen route does, beyond what the Envoy parity test covers: destinations resolved through their
ServiceEntry to endpoints and to the workload whose policies guard them, weights with an injected random
value, Envoy's header parser order, redirect ports, the route's reference and timeout.

Sources: istio/istio pilot/pkg/networking/core/route/route.go (GetDestinationCluster, processWeightedDestination,
ApplyRedirect, setTimeout); envoyproxy/envoy source/common/router/weighted_cluster_specifier.cc
(pickWeightedCluster), header_parser.cc (evaluateHeaders), source/common/http/utility.cc (newUri).
"""

from __future__ import annotations

import pytest
from tests.routing.test_table import BASE, HTTP80, ROUTE_A, build, gw, se, vs

from meshgate.routing.action import HeaderEdits, HeaderStage
from meshgate.routing.match import Request


def _cluster(spec: str, dest: str, port: int = 80) -> tuple[int, list[tuple[str, int, dict[str, str]]]]:
    route = f"{{hosts: ['*'], gateways: [istio-system/gw], http: [{{route: [{{destination: {dest}}}]}}]}}"
    servers = f"[{{port: {{number: {port}, name: http, protocol: HTTP}}, hosts: ['*']}}]"
    table = build(gw(servers) + vs("a", route) + se("a.default.svc.cluster.local", spec)).table
    assert table is not None
    forward = table.route(Request(port, "x", "/")).forward
    assert forward is not None
    ups = [(u.address, u.port, u.workload.labels) for u in forward.cluster.endpoints]
    assert all(
        u.workload.namespace == "default" and u.workload.root_namespace == "istio-system"
        for u in forward.cluster.endpoints
    )
    return forward.cluster.port, ups


TWO_PORTS = "ports: [{number: 80, name: http, targetPort: 8080}, {number: 90, name: web}]"
ONE_PORT = "ports: [{number: 80, name: http, targetPort: 8080}], resolution: STATIC"


@pytest.mark.parametrize(
    ("spec", "dest", "listener", "expected"),
    [
        (ONE_PORT + ", endpoints: [{address: 10.0.0.1, labels: {app: a}}]", "{host: a}", 80,
         (80, [("10.0.0.1", 8080, {"app": "a"})])),
        (ONE_PORT + ", endpoints: [{address: 10.0.0.1, ports: {http: 9}}]", "{host: a}", 80,
         (80, [("10.0.0.1", 9, {})])),
        ("ports: [{number: 5000, name: http}], resolution: STATIC, endpoints: [{address: 10.0.0.1}, "
         "{address: 10.0.0.2, labels: {v: '2'}}]", "{host: a}", 80,
         (5000, [("10.0.0.1", 5000, {}), ("10.0.0.2", 5000, {"v": "2"})])),
        (TWO_PORTS + ", resolution: STATIC, endpoints: [{address: 10.0.0.1}]", "{host: a, port: {number: 90}}", 80,
         (90, [("10.0.0.1", 90, {})])),
        (TWO_PORTS + ", resolution: STATIC, endpoints: [{address: 10.0.0.1}]", "{host: a}", 80,
         (80, [("10.0.0.1", 8080, {})])),
        ("ports: [{number: 80, name: http}], resolution: DNS", "{host: a}", 80,
         (80, [("a.default.svc.cluster.local", 80, {})])),
    ],
)  # fmt: skip
def test_destinations_resolve_to_endpoints_and_workloads(
    spec: str, dest: str, listener: int, expected: object
) -> None:
    """GetDestinationCluster's port (destination, the only port, else the server's); the endpoint's own port for
    that port name, else targetPort, else the number; the workload is the ServiceEntry's namespace + labels."""
    assert _cluster(spec, dest, listener) == expected


def test_destination_port_from_the_server_must_exist() -> None:
    server = gw("[{port: {number: 81, name: http, protocol: HTTP}, hosts: ['*']}]")
    entry = se(
        "a.default.svc.cluster.local", TWO_PORTS + ", resolution: STATIC, endpoints: [{address: 1.2.3.4}]"
    )
    result = build(server + vs("a", ROUTE_A) + entry)
    assert not result.ok
    assert (
        "outbound|81||a.default.svc.cluster.local) has no cluster: no such port" in result.problems[0].message
    )
    assert result.table is not None and result.table.route(Request(81, "x", "/")).status == 503


@pytest.mark.parametrize(
    ("random", "host"), [(0, "a"), (29, "a"), (30, "b"), (99, "b"), (100, "a"), (2**64 - 1, "a")]
)
def test_weights_pick_by_random_modulo_total(random: int, host: str) -> None:
    """pickWeightedCluster: random % total, then the first cluster whose running sum passes it (30/70)."""
    split = ("{hosts: ['*'], gateways: [istio-system/gw], http: [{route: [{destination: {host: a}, weight: 30}, "
             "{destination: {host: b}, weight: 70}]}]}")  # fmt: skip
    table = build(
        gw(HTTP80) + vs("s", split) + se("a.default.svc.cluster.local") + se("b.default.svc.cluster.local")
    ).table
    assert table is not None
    forward = table.route(Request(80, "x", "/"), random=lambda: random).forward
    assert forward is not None and forward.cluster.host == f"{host}.default.svc.cluster.local"


@pytest.mark.parametrize(
    ("stage", "before", "after"),
    [
        (HeaderStage(remove=("x-a",)), [("x-a", "1"), ("X-A", "2"), ("b", "3")], [("b", "3")]),
        (
            HeaderStage(set=(("x-a", "n"),)),
            [("x-a", "1"), ("b", "2"), ("x-a", "3")],
            [("b", "2"), ("x-a", "n")],
        ),
        (HeaderStage(add=(("x-a", "n"),)), [("x-a", "1")], [("x-a", "1"), ("x-a", "n")]),
        (
            HeaderStage(set=(("x-a", ""),), add=(("x-b", ""),)),
            [("x-a", "1")],
            [("x-a", "1")],
        ),  # empty: untouched
        (
            HeaderStage(remove=("x-a",), set=(("x-a", "s"),), add=(("x-a", "a"),)),
            [("x-a", "1")],
            [("x-a", "s"), ("x-a", "a")],
        ),
    ],
)
def test_header_parser_removes_then_overwrites_then_appends(
    stage: HeaderStage, before: list[tuple[str, str]], after: list[tuple[str, str]]
) -> None:
    assert HeaderEdits.of(stage).apply(before) == after


@pytest.mark.parametrize(
    ("redirect", "authority", "location"),
    [
        ("{scheme: http, port: 80}", "x.example", "http://x.example/p"),  # istiod leaves :80 for http out
        ("{scheme: https, port: 443}", "x.example", "https://x.example/p"),
        ("{scheme: https, port: 80}", "x.example", "https://x.example:80/p"),
        ("{derivePort: FROM_REQUEST_PORT}", "x.example", "http://x.example/p"),  # the server is on 80
        ("{derivePort: FROM_PROTOCOL_DEFAULT, scheme: https}", "x.example", "https://x.example/p"),
        ("{scheme: https}", "x.example:80", "https://x.example/p"),  # Envoy drops :80 when http becomes https
        ("{uri: /q}", "x.example:80", "http://x.example:80/q"),  # ... and keeps it otherwise
        ("{scheme: https, port: 8443}", "x.example:80", "https://x.example:8443/p"),
        ("{authority: y.example}", "x.example:80", "http://y.example/p"),
    ],
)
def test_redirect_ports_as_istiod_translates_them(redirect: str, authority: str, location: str) -> None:
    spec = f"{{hosts: ['*'], gateways: [istio-system/gw], http: [{{redirect: {redirect}}}]}}"
    table = build(gw(HTTP80) + vs("r", spec)).table
    assert table is not None
    decision = table.route(Request(80, authority, "/p"))
    assert (decision.status, dict(decision.headers)["location"]) == (301, location)


def test_route_reference_and_timeout() -> None:
    route = "{name: main, timeout: 2.5s, route: [{destination: {host: a}}]}"
    spec = f"{{hosts: ['*'], gateways: [istio-system/gw], http: [{route}]}}"
    table = build(gw(HTTP80) + vs("a", spec) + se("a.default.svc.cluster.local")).table
    assert table is not None
    decision = table.route(Request(80, "x", "/"))
    assert decision.route is not None and decision.forward is not None
    assert (decision.route.virtual_service, decision.route.http_index, decision.route.match_index) == (
        "default/a",
        0,
        None,
    )
    assert (decision.route.file, decision.route.line, decision.forward.timeout_s) == ("t.yaml", 11, 2.5)


@pytest.mark.parametrize(("port", "authority", "outcome"), [(81, "x", "no_listener"), (80, None, "forward")])
def test_listener_and_authority_edge_cases(port: int, authority: str | None, outcome: str) -> None:
    """No listener on the port; a request without authority still reaches a `*`-only route configuration."""
    table = build(BASE).table
    assert table is not None and table.route(Request(port, authority, "/")).outcome == outcome
