"""Envoy takes a virtual host's routes in order, the first whose conditions all hold
(envoyproxy/envoy:source/common/router/config_impl.cc VirtualHostImpl::getRouteFromEntries). meshgate
finds it two ways — one regex alternation over the leading unconditional exact and prefix routes
(routing/route_config.py VirtualHost.head), then a scan of the rest — and both must pick the same route: each
row is asked of a virtual host of prefixes only and of the same one with a header-conditioned route first
(which the rows never satisfy: all of it is scanned), so a change to either way that reorders or mismatches
fails a row (tests/routing/test_route_head.py compares them on generated virtual hosts)."""

from __future__ import annotations

import pytest
from tests.routing.helpers import load

from meshgate.config.model import Workload
from meshgate.routing.match import Request
from meshgate.routing.table import build_routing_table

PREFIXES = ["/api", "/api/v1", "/a.b", "/x(", "/"]
CONDITIONED = (
    '  - match: [{uri: {prefix: /}, headers: {x-never: {exact: "1"}}}]\n'
    "    route: [{destination: {host: svc}}]\n"
)


def vhost_routes(conditioned: bool) -> str:
    rules = "".join(
        f"  - name: r{i}\n    match: [{{uri: {{prefix: '{p}'}}}}]\n    route: [{{destination: {{host: svc}}}}]\n"
        for i, p in enumerate(PREFIXES)
    )
    return "hosts: ['*']\ngateways: [gw]\nhttp:\n" + (CONDITIONED if conditioned else "") + rules


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/items", "r0"),  # /api comes first and is a string prefix of it
        ("/apix", "r0"),  # a string prefix, not a segment prefix
        ("/a.b/c", "r2"),  # '.' is literal
        ("/axb", "r4"),  # ... so /a.b does not match /axb
        ("/x(y", "r3"),  # '(' is literal
        ("/other?q=/api", "r4"),  # the query is not part of the path
        ("/", "r4"),
    ],
)
@pytest.mark.parametrize("conditioned", [False, True], ids=["alternation", "scan"])
def test_first_matching_prefix_in_order(path: str, name: str, conditioned: bool) -> None:
    loaded = load("VirtualService", vhost_routes(conditioned))
    assert loaded.ok, [str(p) for p in loaded.problems]
    table = build_routing_table(loaded.resources, Workload("default", {"istio": "ingressgateway"})).table
    assert table is not None
    (vhost,) = table.listeners[0].chains[0].route_config.virtual_hosts
    assert (vhost.head_len == 0) == conditioned
    request = Request(80, "example.com", path)
    route = table.select(request)
    assert route is not None and route.ref.name == name
    decision = table.route(request)
    assert decision.route is not None and decision.route.name == name
