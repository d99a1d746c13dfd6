"""The routing table istiod's translation gives one gateway workload, beyond what the Envoy parity test covers:
which Gateways select it, listeners and SNI filter chains, the order and visibility of VirtualServices, source
conditions, catch-all routes.

Sources: istio/istio pilot/pkg/model/push_context.go (mergeGateways, VirtualServicesForGateway),
pilot/pkg/model/gateway.go (mergeGateways, GetSNIHostsForServer), pilot/pkg/networking/core/route/route.go
(TranslateRoute, sourceMatchHTTP, SortVHostRoutes), pilot/pkg/xds/sds.go (a credential from the proxy's
namespace); envoyproxy/envoy filter chain server_names matching. Destinations: test_destinations.py.
"""

from __future__ import annotations

import pytest
from tests.routing.helpers import secret

from meshgate.config.load import load_text
from meshgate.config.model import Workload
from meshgate.routing.match import Request
from meshgate.routing.table import RoutingBuild, build_routing_table

INGRESS = Workload("istio-system", {"istio": "ingressgateway"})


def gw(
    servers: str, name: str = "gw", ns: str = "istio-system", selector: str = "{istio: ingressgateway}"
) -> str:
    head = f"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {ns}}}\n"
    return head + f"spec:\n  selector: {selector}\n  servers: {servers}\n---\n"


def vs(name: str, spec: str, ns: str = "default") -> str:
    meta = f"metadata: {{name: {name}, namespace: {ns}}}\n"
    head = f"apiVersion: networking.istio.io/v1\nkind: VirtualService\n{meta}"
    return head + f"spec: {spec}\n---\n"


def se(host: str, spec: str = "", ns: str = "default", name: str = "") -> str:
    name = name or host.split(".")[0]
    meta = f"metadata: {{name: {name}, namespace: {ns}}}\n"
    head = f"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n{meta}"
    ports = "ports: [{number: 80, name: http, protocol: HTTP}]"
    body = spec or f"{ports}, resolution: STATIC, endpoints: [{{address: 10.0.0.1, labels: {{app: {name}}}}}]"
    return head + f"spec: {{hosts: [{host}], {body}}}\n---\n"


HTTP80 = "[{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]"
ROUTE_A = "{hosts: ['*'], gateways: [istio-system/gw], http: [{route: [{destination: {host: a}}]}]}"
BASE = gw(HTTP80) + vs("a", ROUTE_A) + se("a.default.svc.cluster.local")


def build(text: str, workload: Workload = INGRESS) -> RoutingBuild:
    loaded = load_text(text, "t.yaml")
    assert loaded.ok, [str(p) for p in loaded.problems]
    return build_routing_table(loaded.resources, workload)


def host_of(text: str, path: str = "/", authority: str = "x.example", port: int = 80, **kw: object) -> str:
    table = build(text).table
    assert table is not None
    decision = table.route(Request(port, authority, path, **kw))  # type: ignore[arg-type]
    return decision.forward.cluster.host if decision.forward else decision.outcome


@pytest.mark.parametrize(
    ("selector", "workload", "selected"),
    [
        ("{istio: ingressgateway}", INGRESS, True),
        (
            "{istio: ingressgateway}",
            Workload("other", {"istio": "ingressgateway", "x": "y"}),
            True,
        ),  # any namespace
        ("{istio: egressgateway}", INGRESS, False),
        ("{}", INGRESS, True),  # labels.Instance.SubsetOf: an empty selector selects every gateway workload
    ],
)
def test_gateways_select_by_labels_in_any_namespace(
    selector: str, workload: Workload, selected: bool
) -> None:
    text = gw(HTTP80, selector=selector) + vs("a", ROUTE_A) + se("a.default.svc.cluster.local")
    assert (build(text, workload).table is not None) is selected


def test_plain_http_servers_of_a_port_share_one_chain() -> None:
    second = gw("[{port: {number: 80, name: http, protocol: HTTP}, hosts: ['b.example']}]", name="gw2")
    routes = "{hosts: [b.example], gateways: [istio-system/gw2], http: [{route: [{destination: {host: b}}]}]}"
    table = build(BASE + second + vs("b", routes) + se("b.default.svc.cluster.local")).table
    assert table is not None
    (listener,) = table.listeners
    assert [len(c.servers) for c in listener.chains] == [2]
    assert host_of(
        BASE + second + vs("b", routes) + se("b.default.svc.cluster.local"), authority="b.example"
    ) == ("b.default.svc.cluster.local")


def _https(hosts: str, name: str, credential: str = "cert") -> str:
    tls = f"tls: {{mode: SIMPLE, credentialName: {credential}}}"
    return f"{{port: {{number: 443, name: {name}, protocol: HTTPS}}, hosts: [{hosts}], {tls}}}"


HTTPS = gw(
    "["
    + ", ".join(
        [_https("a.example", "https-a"), _https("'*.example'", "https-w"), _https("'*'", "https-any")]
    )
    + "]"
)


@pytest.mark.parametrize(
    ("sni", "chain"),
    [("a.example", 0), ("b.example", 1), ("x.b.example", 1), ("other.org", 2), (None, 2), ("A.EXAMPLE", 0)],
)
def test_sni_selects_the_filter_chain(sni: str | None, chain: int) -> None:
    """Envoy's server_names: exact, then the longest `*.suffix`, then a chain with none (istiod omits `*`)."""
    table = build(HTTPS + secret("cert", "istio-system")).table
    assert table is not None
    (listener,) = table.listeners
    assert listener.tls and [c.server_names for c in listener.chains] == [("a.example",), ("*.example",), ()]
    assert listener.chain(sni) is listener.chains[chain]


def test_credential_is_read_from_the_workload_namespace() -> None:
    """sds.go: a kubernetes:// credential must be in the proxy's namespace; elsewhere it is not served."""
    good = build(HTTPS + secret("cert", "istio-system"))
    assert good.ok and good.table is not None and good.table.listeners[0].chains[0].tls is not None
    bad = build(HTTPS + secret("cert", "default"))
    assert not bad.ok and bad.table is not None and bad.table.listeners == ()
    assert "finds no certificate Secret istio-system/cert" in bad.problems[0].message


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        ("{port: {number: 9000, name: tcp, protocol: TCP}, hosts: ['*']}", "this TCP server of"),
        (
            "{port: {number: 443, name: tls, protocol: HTTPS}, hosts: ['*'], tls: {mode: PASSTHROUGH}}",
            "tls.mode PASSTHROUGH",
        ),
    ],
)
def test_servers_meshgate_does_not_terminate_are_warned(server: str, problem: str) -> None:
    result = build(gw(f"[{server}]"))
    assert result.ok and result.table is not None and result.table.listeners == ()
    assert problem in result.problems[0].message and result.problems[0].warning


def test_private_virtualservices_come_first() -> None:
    """VirtualServicesForGateway: private to the workload's namespace, exported to it, then public."""
    public = vs("pub", ROUTE_A.replace("host: a", "host: a.default.svc.cluster.local"), ns="istio-system")
    private_spec = ROUTE_A.replace("host: a", "host: b.default.svc.cluster.local")
    private = vs("priv", private_spec.replace("gateways", "exportTo: ['.'], gateways"), ns="istio-system")
    text = (
        gw(HTTP80) + public + private + se("a.default.svc.cluster.local") + se("b.default.svc.cluster.local")
    )
    assert host_of(text) == "b.default.svc.cluster.local"


def test_a_hidden_virtualservice_does_not_bind() -> None:
    hidden = vs("a", ROUTE_A.replace("gateways", "exportTo: ['.'], gateways"))  # private to default
    assert host_of(gw(HTTP80) + hidden + se("a.default.svc.cluster.local")) == "no_route"


@pytest.mark.parametrize(
    ("match", "routed"),
    [
        ("{gateways: [istio-system/gw]}", True),
        ("{gateways: [mesh]}", False),
        ("{sourceLabels: {istio: ingressgateway}}", True),
        ("{sourceLabels: {app: x}}", False),
        ("{sourceNamespace: istio-system}", True),
        ("{sourceNamespace: default}", False),
        ("{port: 80}", True),
        ("{port: 8080}", False),
    ],
)
def test_source_conditions_are_decided_for_the_gateway_workload(match: str, routed: bool) -> None:
    """TranslateRoute/sourceMatchHTTP drop a route whose match names another gateway, labels, namespace, port."""
    spec = "{hosts: ['*'], gateways: [istio-system/gw], http: [{match: [MATCH], route: [{destination: {host: a}}]}]}"
    text = gw(HTTP80) + vs("a", spec.replace("MATCH", match)) + se("a.default.svc.cluster.local")
    assert host_of(text) == ("a.default.svc.cluster.local" if routed else "no_route")


def test_catch_all_routes_go_last_in_a_virtual_host() -> None:
    """Two VirtualServices on one host: the first's catch-all is moved after the second's prefix (SortVHostRoutes)."""
    route = "{match: [{uri: {prefix: /b}}], route: [{destination: {host: b}}]}"
    later = f"{{hosts: ['*'], gateways: [istio-system/gw], http: [{route}]}}"
    text = BASE + vs("b", later) + se("b.default.svc.cluster.local")
    assert host_of(text, "/b/x") == "b.default.svc.cluster.local"
    assert host_of(text, "/x") == "a.default.svc.cluster.local"
