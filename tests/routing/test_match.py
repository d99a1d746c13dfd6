"""The matcher's parts as tables: the host Envoy matches virtual hosts with, virtual host selection order,
header and query parameter conditions (the Envoy parity test checks the same on a real Envoy; these pin the
edge cases it cannot send, like a missing authority or a prefix wildcard domain istiod never generates).

Sources: envoyproxy/envoy source/common/http/header_utility.cc (getPortStart), source/common/router/
config_impl.cc (RouteMatcher::findVirtualHost, findWildcardVirtualHost), header_utility.cc
(HeaderDataBaseImpl::matchesHeaders), http/utility.cc (QueryParamsMulti::parseQueryString).
"""

from __future__ import annotations

import pytest

from meshgate.config.networking.hosts import strip_port
from meshgate.config.networking.model import StringMatch
from meshgate.routing.match import HeaderMatcher, HeaderView, Request, StringMatcher, path_only
from meshgate.routing.table import RouteConfig, VirtualHost


@pytest.mark.parametrize(
    ("authority", "host"),
    [
        ("a.example", "a.example"),
        ("a.example:8080", "a.example"),
        ("a.example:", "a.example:"),  # no digits: not a port
        ("a.example:http", "a.example:http"),
        ("[::1]:8080", "[::1]"),
        ("[::1]", "[::1]"),
        ("::1", ":"),  # an unbracketed IPv6 address: the last `:1` is a port to Envoy too
    ],
)
def test_port_is_stripped_as_envoy_strips_it(authority: str, host: str) -> None:
    assert strip_port(authority) == host


CONFIG = RouteConfig(
    "t",
    tuple(
        VirtualHost(name, (name,))
        for name in ("a.example", "*.example", "*.b.example", "*-b.example", "api.*", "api.v1.*", "*")
    ),
)


@pytest.mark.parametrize(
    ("authority", "vhost"),
    [
        ("a.example", "a.example"),  # exact first
        ("A.EXAMPLE:80", "a.example"),
        ("x.b.example", "*.b.example"),  # the longest suffix wins
        ("x-b.example", "*-b.example"),
        ("c.example", "*.example"),
        (".example", "*"),  # a wildcard needs at least one character
        ("api.v1.org", "api.v1.*"),  # then the longest prefix
        ("api.org", "api.*"),
        ("other.org", "*"),
    ],
)
def test_virtual_host_selection_order(authority: str, vhost: str) -> None:
    found = CONFIG.find(authority)
    assert found is not None and found.name == vhost


def test_without_authority_only_a_lone_default_virtual_host_is_found() -> None:
    assert CONFIG.find(None) is None
    lone = RouteConfig("t", (VirtualHost("*", ("*",)),))
    assert lone.find(None) is not None


def view(*headers: tuple[str, str], path: str = "/") -> HeaderView:
    return HeaderView(Request(80, "h", path, headers=headers))


EXACT = StringMatcher.of(StringMatch("exact", "on"))
PRESENT = StringMatcher("present")


@pytest.mark.parametrize(
    ("matcher", "headers", "matches"),
    [
        (HeaderMatcher("x", EXACT), [], False),  # missing never matches
        (HeaderMatcher("x", EXACT), [("x", "off"), ("x", "on")], True),  # one value suffices
        (HeaderMatcher("x", EXACT, invert=True), [], False),  # inverted, missing still fails...
        (
            HeaderMatcher("x", EXACT, invert=True, missing_as_empty=True),
            [],
            True,
        ),  # ...unless missing is empty
        (HeaderMatcher("x", EXACT, invert=True, missing_as_empty=True), [("x", "off"), ("x", "on")], False),
        (HeaderMatcher("x", PRESENT), [("x", "")], True),
        (HeaderMatcher("x", PRESENT, invert=True), [], True),
        (HeaderMatcher(":method", StringMatcher.of(StringMatch("regex", "G.T"))), [], True),
        (HeaderMatcher(":authority", StringMatcher.of(StringMatch("prefix", "h"))), [], True),
    ],
)
def test_header_conditions(matcher: HeaderMatcher, headers: list[tuple[str, str]], matches: bool) -> None:
    assert matcher.matches(view(*headers)) is matches


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/p", {}),
        ("/p?a=1&b&a=2", {"a": "1", "b": ""}),
        ("/p?a=%20&&c=", {"a": "%20", "c": ""}),
        ("/p?x=1#frag", {"x": "1"}),
        ("/p?=v", {"": "v"}),
    ],
)
def test_query_parameters_first_value_as_written(path: str, query: dict[str, str]) -> None:
    assert view(path=path).query == query


@pytest.mark.parametrize(("path", "only"), [("/a?b", "/a"), ("/a#b?c", "/a"), ("/a?b#c", "/a"), ("/a", "/a")])
def test_paths_are_matched_without_query_or_fragment(path: str, only: str) -> None:
    assert path_only(path) == only
