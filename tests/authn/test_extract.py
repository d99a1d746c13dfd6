"""Token extraction: envoyproxy/envoy extractor.cc + http/utility.cc (query, cookies) + inline headers.

The header rows were asked of a real Envoy 1.40 (tests/parity/test_repeated_tokens.py sends them through
Envoy and meshgate): Envoy 1.40 reads a header token from the first base64url-or-dot character after the
prefix to the *end* of the entry (earlier meshgate versions stopped at the first other character — which
let `Bearer <valid>,Bearer <forged>` pass on its first half).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from meshgate.authn.extractor import (
    INLINE_HEADERS,
    Extractor,
    Location,
    cookie_pairs,
    envoy_view,
    header_entries,
    header_token,
    order_locations,
)
from meshgate.authn.query import query_pairs

JWT = "aaa.bbb.ccc"


def parse_query(path: str) -> dict[str, str]:
    """Envoy's QueryParamsMulti getFirstValue for every name, over meshgate's reading of the query."""
    params: dict[str, str] = {}
    for name, value in query_pairs(path):
        params.setdefault(name, value)
    return params


def parse_cookies(values: Sequence[str], wanted: frozenset[str]) -> dict[str, str]:
    """Envoy's Http::Utility::parseCookies restricted to `wanted` names: the first occurrence wins."""
    cookies: dict[str, str] = {}
    for name, value in cookie_pairs(values, wanted):
        cookies.setdefault(name, value)
    return cookies


def extract_every(
    locations: Sequence[Location], headers: Mapping[str, tuple[str, ...]], path: str
) -> tuple[tuple[str, ...], ...]:
    return Extractor(locations)(headers, path)


# extractor.cc extract()/extractJWT(), on one (already trimmed) header entry
@pytest.mark.parametrize(
    ("value", "prefix", "token"),
    [
        pytest.param(f"Bearer {JWT}", "Bearer ", JWT, id="plain"),
        pytest.param(f"bearer {JWT}", "Bearer ", None, id="prefix-case-sensitive"),
        pytest.param(f"Basic x, Bearer {JWT}", "Bearer ", JWT, id="prefix-anywhere"),
        pytest.param(f"Bearer {JWT},Bearer other.x.y", "Bearer ", f"{JWT},Bearer other.x.y", id="to-the-end"),
        pytest.param(
            f"Bearer   {JWT} trailing", "Bearer ", f"{JWT} trailing", id="skips-to-first-token-char"
        ),
        pytest.param(f'Bearer "{JWT}"', "Bearer ", f'{JWT}"', id="opening-quote-skipped"),
        pytest.param("Bearer !!!", "Bearer ", "Bearer !!!", id="no-token-char-whole-value"),
        pytest.param("Bearer ", "Bearer ", "Bearer ", id="prefix-only-whole-value"),
        pytest.param(f" {JWT} ", "", f" {JWT} ", id="empty-prefix-whole-value"),
        pytest.param(f"Token:{JWT}", "Token:", JWT, id="custom-prefix"),
        pytest.param(f"Bearer Bearer {JWT}", "Bearer ", f"Bearer {JWT}", id="prefix-twice"),
    ],
)
def test_header_token(value: str, prefix: str, token: str | None) -> None:
    assert header_token(value, prefix) == token


# header_map_impl: inline headers hold one entry (lines joined with ','), others one entry per line; the
# HTTP/1 codec trims whitespace around every value.
@pytest.mark.parametrize(
    ("name", "values", "entries"),
    [
        ("authorization", ("Bearer a", "Bearer b"), ("Bearer a,Bearer b",)),
        ("user-agent", ("a", "b"), ("a,b",)),
        ("x-token", ("a", "b"), ("a", "b")),
        ("proxy-authorization", ("a", "b"), ("a", "b")),
        ("authorization", ("Bearer a ",), ("Bearer a",)),
        ("authorization", (" Bearer a\t", "\tb "), ("Bearer a,b",)),
        ("x-token", (" a ", "b\t"), ("a", "b")),
        ("x-token", ("Bearer ",), ("Bearer",)),
    ],
)
def test_header_entries(name: str, values: tuple[str, ...], entries: tuple[str, ...]) -> None:
    assert header_entries(name, values) == entries


def test_inline_headers_are_lower_case_request_headers() -> None:
    assert all(name == name.lower() for name in INLINE_HEADERS)
    assert {"authorization", "user-agent", "referer", "via"} <= INLINE_HEADERS
    assert not {"proxy-authorization", "x-token", "cookie", "forwarded"} & INLINE_HEADERS


# http/utility.cc parseAndDecodeQueryString + PercentEncoding::decode
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/p", {}),
        ("/p?", {}),  # parseParameters: nothing after the `?`, no parameter
        ("/p?&", {"": ""}),
        ("/p?a=1&b=2", {"a": "1", "b": "2"}),
        ("/p?a=1&a=2", {"a": "1"}),  # first occurrence wins
        ("/p?a", {"a": ""}),
        ("/p?a=b=c", {"a": "b=c"}),  # split at the first '='
        ("/p?a=x%2Ey%zz+", {"a": "x.y%zz+"}),  # no '+' → space; bad escapes kept
        ("/p?%61=1", {"a": "1"}),  # names decoded too
        (
            "/p?a=1&&b=2&",
            {"a": "1", "": "", "b": "2"},
        ),  # an inner empty piece is a parameter, a final one not
    ],
)
def test_parse_query(path: str, params: dict[str, str]) -> None:
    assert parse_query(path) == params


# http/utility.cc forEachCookie / parseCookies
@pytest.mark.parametrize(
    ("values", "cookies"),
    [
        (("a=1; b=2",), {"a": "1", "b": "2"}),
        (("a=1", "a=2"), {"a": "1"}),  # first occurrence across headers
        (('a="q"; b=""',), {"a": "q", "b": ""}),  # quotes stripped
        (("a; b=2;;",), {"b": "2"}),  # no '=' skipped, empty pieces skipped
        (("  a=x y ",), {"a": "x y "}),  # leading spaces of the name trimmed only
    ],
)
def test_parse_cookies(values: tuple[str, ...], cookies: dict[str, str]) -> None:
    assert parse_cookies(values, frozenset({"a", "b"})) == cookies


def test_location_order() -> None:
    # std::map keyed by header name + prefix, then params, then cookies
    locs = [
        Location("cookie", "c"),
        Location("param", "z"),
        Location("header", "x-b", ""),
        Location("param", "a"),
        Location("header", "x-a", "P "),
        Location("header", "x-a", "P "),
    ]
    assert order_locations(locs) == (
        Location("header", "x-a", "P "),
        Location("header", "x-b", ""),
        Location("param", "a"),
        Location("param", "z"),
        Location("cookie", "c"),
    )


LOCS = (
    Location("header", "authorization", "Bearer "),
    Location("header", "x-jwt", ""),
    Location("param", "t"),
    Location("cookie", "c"),
)


@pytest.mark.parametrize(
    ("headers", "path", "every", "envoy"),
    [
        pytest.param({}, "/p", ((), (), (), ()), ((), (), (), ()), id="nothing"),
        pytest.param(
            {"authorization": ("Bearer x", "Bearer y"), "x-jwt": ("one", "two"), "cookie": ("c=1; d=2", "c=3")},
            "/p?t=a&u=b&t=%41",
            (("x,Bearer y",), ("one", "two"), ("a", "A"), ("1", "3")),
            (("x,Bearer y",), ("one", "two"), ("a",), ("1",)),
            id="repeats",
        ),
        pytest.param(
            {"authorization": ("Basic z",), "x-jwt": ("",)}, "/p?t", ((), ("",), ("",), ()), ((), ("",), ("",), ()),
            id="no-prefix-empty-values",
        ),
    ],
)  # fmt: skip
def test_every_and_envoys_view(
    headers: dict[str, tuple[str, ...]],
    path: str,
    every: tuple[tuple[str, ...], ...],
    envoy: tuple[tuple[str, ...], ...],
) -> None:
    """Envoy reads every header entry, a parameter's and a cookie's first value; meshgate reads all."""
    found = extract_every(LOCS, headers, path)
    assert found == every
    assert envoy_view(LOCS, found) == envoy


QUERY_PATHS = [path for path, _ in test_parse_query.pytestmark[0].args[1]]
COOKIE_VALUES = [values for values, _ in test_parse_cookies.pytestmark[0].args[1]]


@pytest.mark.parametrize("path", QUERY_PATHS)
@pytest.mark.parametrize("cookies", COOKIE_VALUES)
def test_envoys_view_of_params_and_cookies_is_the_first(path: str, cookies: tuple[str, ...]) -> None:
    locs = (Location("param", "a"), Location("param", ""), Location("cookie", "a"), Location("cookie", "b"))
    view = envoy_view(locs, extract_every(locs, {"cookie": cookies}, path))
    params, jar = parse_query(path), parse_cookies(cookies, frozenset({"a", "b"}))
    expected = [params.get("a"), params.get(""), jar.get("a"), jar.get("b")]
    assert view == tuple(() if v is None else (v,) for v in expected)
