"""Token extraction: envoyproxy/envoy extractor.cc + http/utility.cc (query, cookies)."""

from __future__ import annotations

import pytest

from meshgate.engine.extract import (
    Location,
    extract_all,
    extract_every,
    extract_header_token,
    order_locations,
    parse_cookies,
    parse_query,
)

JWT = "aaa.bbb.ccc"


# extractor.cc extract()/extractJWT()
@pytest.mark.parametrize(
    ("value", "prefix", "token"),
    [
        pytest.param(f"Bearer {JWT}", "Bearer ", JWT, id="plain"),
        pytest.param(f"bearer {JWT}", "Bearer ", None, id="prefix-case-sensitive"),
        pytest.param(f"Basic x, Bearer {JWT}", "Bearer ", JWT, id="prefix-anywhere"),
        pytest.param(f"Bearer {JWT},Bearer other.x.y", "Bearer ", JWT, id="run-stops-at-comma"),
        pytest.param(f"Bearer   {JWT} trailing", "Bearer ", JWT, id="skips-to-first-token-char"),
        pytest.param(f'Bearer "{JWT}"', "Bearer ", JWT, id="quotes-skipped"),
        pytest.param("Bearer !!!", "Bearer ", "Bearer !!!", id="no-token-char-whole-value"),
        pytest.param("Bearer ", "Bearer ", "Bearer ", id="prefix-only-whole-value"),
        pytest.param(f" {JWT} ", "", f" {JWT} ", id="empty-prefix-whole-value"),
        pytest.param(f"Token:{JWT}", "Token:", JWT, id="custom-prefix"),
    ],
)
def test_header_token(value: str, prefix: str, token: str | None) -> None:
    assert extract_header_token(value, prefix) == token


# http/utility.cc parseAndDecodeQueryString + PercentEncoding::decode
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/p", {}),
        ("/p?", {"": ""}),
        ("/p?a=1&b=2", {"a": "1", "b": "2"}),
        ("/p?a=1&a=2", {"a": "1"}),  # first occurrence wins
        ("/p?a", {"a": ""}),
        ("/p?a=b=c", {"a": "b=c"}),  # split at the first '='
        ("/p?a=x%2Ey%zz+", {"a": "x.y%zz+"}),  # no '+' → space; bad escapes kept
        ("/p?%61=1", {"a": "1"}),  # names decoded too
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


def test_extract_all_joins_repeated_headers() -> None:
    locs = (Location("header", "x-jwt", ""), Location("param", "t"), Location("cookie", "c"))
    headers = {"x-jwt": ("one", "two"), "cookie": ("c=cv",)}
    assert extract_all(locs, headers, "/p?t=tv") == ("one,two", "tv", "cv")
    assert extract_all(locs, {}, "/p") == (None, None, None)


# The authenticator reads Envoy's token as the first of extract_every's (authn.py): pinned over every row above.
HEADER_ROWS = [p.values for p in test_header_token.pytestmark[0].args[1]]
QUERY_PATHS = [path for path, _ in test_parse_query.pytestmark[0].args[1]]
COOKIE_VALUES = [values for values, _ in test_parse_cookies.pytestmark[0].args[1]]


@pytest.mark.parametrize(("value", "prefix", "token"), HEADER_ROWS)
def test_first_of_every_header_token_is_envoys(value: str, prefix: str, token: str | None) -> None:
    locs = (Location("header", "x-jwt", prefix),)
    first = extract_every(locs, {"x-jwt": (value,)}, "/")[0]
    assert (first[0] if first else None) == token == extract_all(locs, {"x-jwt": (value,)}, "/")[0]


@pytest.mark.parametrize("path", QUERY_PATHS)
@pytest.mark.parametrize("cookies", COOKIE_VALUES)
def test_first_of_every_param_and_cookie_is_envoys(path: str, cookies: tuple[str, ...]) -> None:
    locs = (Location("param", "a"), Location("param", ""), Location("cookie", "a"), Location("cookie", "b"))
    headers = {"cookie": cookies}
    firsts = tuple(found[0] if found else None for found in extract_every(locs, headers, path))
    assert firsts == extract_all(locs, headers, path)
