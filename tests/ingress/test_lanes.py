"""gateway/ingress/lanes.py Lanes.find picks a route on the authority and path alone (a virtual host's head
alternation, remembered per authority); whenever it answers, its Lane must be the one of the route the
general walk chooses (RoutingTable.select: listener, filter chain, virtual host by authority as Envoy's
findVirtualHost — envoyproxy/envoy:source/common/router/config_impl.cc — then the first route whose
conditions hold). Generated authorities hit exact, wildcard and default virtual hosts, with ports and case;
paths hit head routes, a header-conditioned route the request satisfies, and routes after it. A find that
keys its memo wrongly, takes a virtual host's head past a conditioned route, or serves an httpsRedirect
host on a plain listener names another route (or answers where the general walk redirects) and fails."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshgate.authn.verified_tokens import VerifiedTokens
from meshgate.config.load import load_text
from meshgate.config.model import Workload
from meshgate.engine.options import EngineOptions
from meshgate.gateway.ingress.lanes import Lanes
from meshgate.routing.match import Request
from meshgate.server.ingress import Ingress, build_ingress

CONFIG = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}
  - {port: {number: 80, name: http2, protocol: HTTP}, hosts: [secure.example.com], tls: {httpsRedirect: true}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc, namespace: default}
spec:
  hosts: [svc.default.svc.cluster.local, svc2.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: 9001}, labels: {app: svc}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: named, namespace: default}
spec:
  hosts: [a.example.com, "*.wild.com", secure.example.com]
  gateways: [gw]
  http:
  - {name: exact, match: [{uri: {exact: /api}}], route: [{destination: {host: svc}}]}
  - {name: folded, match: [{uri: {prefix: /Api/V1}, ignoreUriCase: true}], route: [{destination: {host: svc2}}]}
  - name: picked
    match: [{uri: {prefix: /api}, headers: {x-pick: {exact: "1"}}}]
    route: [{destination: {host: svc}}]
  - {name: after, match: [{uri: {prefix: /api/v}}], route: [{destination: {host: svc2}}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: rest, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - {name: items, match: [{uri: {prefix: /api/v1/items/}}], route: [{destination: {host: svc}}]}
  - {name: root, match: [{uri: {prefix: /}}], route: [{destination: {host: svc2}}]}
"""

authorities = st.sampled_from(
    ["a.example.com", "A.Example.com:80", "x.wild.com", "secure.example.com", "other.org", "", "wild.com"]
)
paths = st.lists(st.sampled_from(["/api", "/Api", "/v1", "/V1", "/items/", "?q", "#f", "/x"]), max_size=5)


def ingress() -> Ingress:
    loaded = load_text(CONFIG, "lanes.yaml")
    assert loaded.ok, [str(p) for p in loaded.problems]
    gateway = Workload("default", {"istio": "ingressgateway"})
    built = build_ingress(loaded.resources, gateway, EngineOptions(), VerifiedTokens())
    assert built is not None
    return built


INGRESS = ingress()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(authorities, paths), min_size=1, max_size=12))
def test_find_names_the_general_walks_route(requests: list[tuple[str, list[str]]]) -> None:
    lanes = Lanes(INGRESS, 80, "http", lambda edits: None)
    for authority, parts in requests:
        path = "/" + "".join(parts)
        lane = lanes.find(authority or None, path)
        request = Request(80, authority or None, path, headers=(("x-pick", "1"),))
        selected = INGRESS.table.select(request)
        if lane is not None:
            assert selected is not None and lanes.of(selected) is lane, (authority, path)
            assert INGRESS.table.route(request).route == selected.ref


def test_every_named_route_takes_a_lane() -> None:
    """The rows above can only fail if find answers: here it does, for each head route of the config."""
    lanes = Lanes(INGRESS, 80, "http", lambda edits: None)
    taken = {
        name: lanes.find(authority, path)
        for name, authority, path in [
            ("exact", "a.example.com", "/api?x"),
            ("folded", "B.wild.com", "/API/v1x"),
            ("items", "any.org:8080", "/api/v1/items/7"),
            ("root", "other.org", "/z"),
        ]
    }
    assert all(lane is not None and lane.route_name == name for name, lane in taken.items()), taken
    assert lanes.find("secure.example.com", "/api") is None  # httpsRedirect: the general walk redirects
    assert lanes.find("a.example.com", "/api/v2") is None  # past the conditioned route: the general walk
