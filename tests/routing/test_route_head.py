"""The head alternation (routing/route_config.py VirtualHost.head) must choose exactly the route the general
matcher does: Envoy takes a virtual host's routes in order, the first whose conditions all hold
(envoyproxy/envoy:source/common/router/config_impl.cc VirtualHostImpl::getRouteFromEntries), each by
RouteMatcher.matches (routing/match.py). Generated virtual hosts mix exact and prefix paths (case folded or
not, some with `?`/`#` in the value), regex paths and header-conditioned routes, in every order; generated
paths share their prefixes and carry queries and fragments. A head that reorders branches, matches across the
query, folds case where it should not, or stops at the wrong route picks another route and fails; so does
`gateway/ingress/lanes.py` Lanes.find, which must name the same route whenever it answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshgate.config.networking.model import HttpMatch, StringMatch
from meshgate.routing.action import RouteRef
from meshgate.routing.compile import CompiledRoute, DirectAction
from meshgate.routing.match import HeaderView, Request, compile_match
from meshgate.routing.route_config import RouteConfig, VirtualHost

# U+212A KELVIN SIGN folds to `k` in Unicode only: `ignoreUriCase` folds ASCII
PIECES = ["/", "a", "A", "b", "/api", "/v1", "?", "#", "q=1", ".", "é", "É", "k", "\u212a"]
pieces = st.lists(st.sampled_from(PIECES), max_size=5).map("".join)


@st.composite
def matches(draw: st.DrawFn) -> HttpMatch:
    kind = draw(st.sampled_from(["prefix", "exact", "regex", "present"]))
    value = draw(pieces) if kind != "regex" else draw(st.sampled_from(["/a.*", "/api/v[0-9]+", ".*", "/A"]))
    headers = (("x-pick", StringMatch("exact", "1")),) if draw(st.integers(0, 4)) == 0 else ()
    fold = draw(st.booleans())
    return HttpMatch(uri=StringMatch(kind, "/" + value if kind != "regex" else value), headers=headers,
                     ignore_uri_case=fold)  # fmt: skip


def vhost_of(drawn: list[HttpMatch]) -> VirtualHost:
    routes = tuple(
        CompiledRoute(RouteRef("default/vs", i, 0, "vs.yaml", i), compile_match(m), DirectAction(200))
        for i, m in enumerate(drawn)
    )
    return VirtualHost("*:80", ("*",), routes)


def general(vhost: VirtualHost, request: Request) -> CompiledRoute | None:
    """The first route whose RouteMatcher holds: no head, no scan shortcuts."""
    view = HeaderView(request)
    return next((r for r in vhost.routes if r.matcher.matches(request.path, view)), None)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(matches(), min_size=1, max_size=8),
    st.lists(pieces, min_size=1, max_size=8),
    st.booleans(),
)
def test_head_and_scan_choose_the_general_matchers_route(
    drawn: list[HttpMatch], paths: list[str], picked: bool
) -> None:
    vhost = vhost_of(drawn)
    config = RouteConfig("http.80", (vhost,))
    headers = (("x-pick", "1"),) if picked else ()
    for tail in paths:
        request = Request(80, "example.com", "/" + tail, headers=headers)
        expected = general(vhost, request)
        assert config.select(request) is expected, (request.path, [m.uri for m in drawn])
        found = vhost.head.match(request.path) if vhost.head is not None else None
        if found is not None:  # what Lanes.find takes without a Request: the head's route only
            assert vhost.head_routes[found.lastindex or 0] is expected
