"""examples/ingress routes the seed's picture: meshgate as `istio: ingressgateway` listens on 8080, every request
goes to the frontend's endpoint (127.0.0.1:18080, where `meshgate demo` runs the built-in frontend), and the
workload there is the one the seed's two policies select (`app: frontend` in `default`)."""

from __future__ import annotations

from pathlib import Path

from meshgate.config.load import load_paths
from meshgate.config.model import Workload
from meshgate.config.select import select_for_workload
from meshgate.routing.match import Request
from meshgate.routing.table import build_routing_table

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ingress"


def test_the_ingress_example_routes_to_the_seed_workload() -> None:
    loaded = load_paths([str(EXAMPLE)])
    assert loaded.ok and loaded.problems == ()
    build = build_routing_table(loaded.resources, Workload("istio-system", {"istio": "ingressgateway"}))
    assert build.problems == () and build.table is not None
    assert [(lst.port, lst.tls) for lst in build.table.listeners] == [(8080, False)]
    decision = build.table.route(Request(8080, "localhost:8080", "/productpage?x=1"))
    assert decision.route is not None and decision.route.virtual_service == "default/frontend"
    assert decision.forward is not None and decision.forward.path == "/productpage?x=1"
    (upstream,) = decision.forward.cluster.endpoints
    assert (upstream.address, upstream.port) == ("127.0.0.1", 18080)
    authn, authz = select_for_workload(loaded.resources, upstream.workload)
    assert [p.name for p in authn] == ["frontend"] and [p.name for p in authz] == ["require-jwt"]
    gateway_authn, gateway_authz = select_for_workload(loaded.resources, build.table.workload)
    assert (
        gateway_authn == () and gateway_authz == ()
    )  # the seed's policies guard the frontend, not the gateway
