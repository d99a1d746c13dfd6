"""Matcher building blocks: Istio's `*` conventions, request-principal split, claim paths (§3.5, §3.8)."""

from __future__ import annotations

from typing import Any

import pytest

from meshgate.authn.identity import Identity
from meshgate.authz.match import (
    Unparsable,
    header_matcher,
    host_matcher,
    list_or_value_matcher,
    string_matcher,
    value_matcher,
)
from meshgate.authz.principal import claim_matcher, claim_path, request_principal_matcher

STRING_GO = "istio/istio:pilot/pkg/security/authz/matcher/string.go"
HEADER_GO = "istio/istio:pilot/pkg/security/authz/matcher/header.go"
GENERATOR_GO = "istio/istio:pilot/pkg/security/authz/model/generator.go requestPrincipalGenerator"


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("*", "x", True),  # regex .+
        ("*", "", False),
        ("/api/*", "/api/v1", True),
        ("/api/*", "/API/v1", False),  # case-sensitive
        ("*.txt", "/a/b.txt", True),
        ("*.txt", "/a/b.TXT", False),
        ("/exact", "/exact", True),
        ("/exact", "/exact/", False),
        ("/a*b", "/a*b", True),  # a `*` in the middle is literal
        ("/a*b", "/axb", False),
    ],
)
def test_string_matcher(pattern: str, value: str, matches: bool) -> None:
    """STRING_GO StringMatcher."""
    assert string_matcher(pattern)(value) is matches


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("Example.COM", "example.com", True),
        ("example.com", "EXAMPLE.com", True),
        ("example.com", "example.com:8080", False),  # the port is kept
        ("example.com:*", "Example.com:8080", True),
        ("*.example.com", "API.Example.Com", True),
        ("api.*", "API.example.com", True),
        ("ſ.example", "s.example", False),  # ASCII folding only
    ],
)
def test_host_matcher_ignores_ascii_case(pattern: str, value: str, matches: bool) -> None:
    """HEADER_GO HostMatcher (ignore_case, CVE-2021-39155)."""
    matcher = host_matcher(pattern)
    assert matcher is not None
    assert matcher(value) is matches


def test_star_is_presence_for_headers_and_hosts() -> None:
    """HEADER_GO: `*` → present_match (the caller checks presence, even an empty value)."""
    assert header_matcher("*") is None
    assert host_matcher("*") is None


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        ("group1", True),
        (["x", "group1"], True),
        (["x"], False),
        (1, False),
        (True, False),
        ({"group1": 1}, False),
    ],
)
def test_list_or_value_matcher(value: Any, matches: bool) -> None:
    """model/util.go MetadataListValueMatcherForJWTClaims: string, or any string element of a list."""
    assert list_or_value_matcher(string_matcher("group1"))(value) is matches


@pytest.mark.parametrize("value", [1, 1.5, True, None, ["a"], {"a": "b"}])
def test_non_string_values_never_match(value: Any) -> None:
    """envoyproxy/envoy:source/common/common/matchers.cc ValueMatcher string_match: strings only."""
    assert value_matcher(string_matcher("*"))(value) is False


def _identity(claims: dict[str, Any]) -> Identity:
    return Identity(issuer=str(claims.get("iss", "")), subject=claims.get("sub"), claims=claims)


@pytest.mark.parametrize(
    ("value", "iss", "sub", "matches"),
    [
        ("*", "iss", "sub", True),
        ("*", "iss", "", False),  # sub must be non-empty
        ("*", "", "sub", False),
        ("https://a.example/sub1", "https://a.example", "sub1", True),  # split at the LAST `/`
        ("https://a.example/sub1", "https://a.example/sub1", "", False),
        ("*/sub1", "anything", "sub1", True),
        ("*/sub1", "anything", "sub2", False),
        ("*.example/sub1", "https://a.example", "sub1", True),
        ("*.example/sub1", "https://a.other", "sub1", False),
        ("*sub1", "iss", "my-sub1", True),  # no `/`: iss any, sub suffix
        ("*sub1", "", "my-sub1", False),
        ("iss/*", "iss", "x", True),
        ("iss/*", "iss", "", False),
        ("iss/pre*", "iss", "prefix", True),
        ("iss/pre*", "iss", "xpre", False),
        ("iss*", "issuer", "x", True),  # no `/`: iss prefix, sub any non-empty
        ("iss*", "issuer", "", False),
        ("plain", "plain", "", True),  # no `/`: iss exact and sub exactly ""
        ("plain", "plain", "x", False),
        ("a/b/c", "a/b", "c", True),
        ("a/b/c", "a", "b/c", False),  # a sub containing `/` is never matched exactly
    ],
)
def test_request_principal_split(value: str, iss: str, sub: str, matches: bool) -> None:
    """GENERATOR_GO: iss and sub matched separately (§3.8)."""
    assert request_principal_matcher(value)(_identity({"iss": iss, "sub": sub})) is matches


@pytest.mark.parametrize(
    ("claims", "matches"),
    [({"iss": "iss"}, False), ({"iss": "iss", "sub": 5}, False), ({"iss": ["iss"], "sub": "s"}, False)],
)
def test_request_principal_needs_string_claims(claims: dict[str, Any], matches: bool) -> None:
    """GENERATOR_GO: metadata string matchers on `iss` and `sub`; missing or non-string never match."""
    assert request_principal_matcher("*")(_identity(claims)) is matches


def test_request_principal_without_token_never_matches() -> None:
    assert request_principal_matcher("*")(None) is False


@pytest.mark.parametrize(
    ("inner", "path"),
    [
        ("[groups]", ("groups",)),
        ("[nested][key]", ("nested", "key")),
        ("[a.b]", ("a.b",)),
        ("[a[b]]", ("a[b]",)),  # not a sequence of brackets: the whole content is one name
        ("[a]x[b]", ("a]x[b",)),
        ("", ()),
    ],
)
def test_claim_path(inner: str, path: tuple[str, ...]) -> None:
    """istio/istio:pilot/pkg/security/authz/model/util.go extractNameInNestedBrackets."""
    assert claim_path(inner) == path


@pytest.mark.parametrize("inner", ["groups", "[groups", "x[groups]"])
def test_claim_path_rejects_keys_without_brackets(inner: str) -> None:
    with pytest.raises(Unparsable):
        claim_path(inner)


@pytest.mark.parametrize(
    ("path", "values", "claims", "matches"),
    [
        (("groups",), ("group1",), {"groups": ["group1", "group2"]}, True),
        (("groups",), ("group3",), {"groups": ["group1", "group2"]}, False),
        (("nested", "key"), ("v*",), {"nested": {"key": "value"}}, True),
        (("nested", "key"), ("v*",), {"nested": [{"key": "value"}]}, False),  # a list is not an object
        (("scope",), ("scope1",), {"scope": ["scope1", "scope2"]}, True),  # already split (§1.7)
        (("n",), ("1",), {"n": 1}, False),  # non-string claim
        (("missing",), ("*",), {"other": "x"}, False),
        (("groups",), ("*",), {"groups": ["", "x"]}, True),
        ((), ("*",), {"a": "b"}, False),  # the payload itself is an object
    ],
)
def test_claim_matcher(
    path: tuple[str, ...], values: tuple[str, ...], claims: dict[str, Any], matches: bool
) -> None:
    """requestClaimGenerator over the jwt_authn payload (§3.8)."""
    assert claim_matcher(path, values)(_identity(claims)) is matches
