"""Prebuilt string matchers with Istio's `*` conventions (istio/istio:pilot/pkg/security/authz/matcher).

Every builder runs once at compile time and returns a plain `str -> bool` (or `value -> bool`) function:
- `string_matcher` (matcher/string.go StringMatcher): `*` → regex `.+` (non-empty), `*x` → suffix,
  `x*` → prefix, else exact; a `*` in the middle is literal. Used for paths, claims, SNI.
- `header_matcher` / `host_matcher` (matcher/header.go): `*` → presence (checked by the caller, the
  value may be empty), else the same shapes; hosts compare ASCII case-insensitively (CVE-2021-39155).
- `value_matcher`: Envoy's StringMatcher on a metadata value — only strings can match
  (envoyproxy/envoy:source/common/common/matchers.cc); `list_or_value_matcher` adds Istio's extended JWT
  form (model/util.go MetadataListValueMatcherForJWTClaims: the value itself, or any list element).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

StrMatch = Callable[[str], bool]
ValueMatch = Callable[[Any], bool]

WILDCARD = "*"


class Unparsable(ValueError):
    """A policy value the generator cannot turn into a matcher (istiod: generator error, §3.10)."""


def _non_empty(value: str) -> bool:
    return value != ""


def string_matcher(pattern: str) -> StrMatch:
    """Istio StringMatcher(v): `*` = `.+`, `*x` suffix, `x*` prefix, else exact (case-sensitive)."""
    if pattern == WILDCARD:
        return _non_empty
    if pattern.startswith(WILDCARD):
        suffix = pattern[1:]
        return lambda value: value.endswith(suffix)
    if pattern.endswith(WILDCARD):
        prefix = pattern[:-1]
        return lambda value: value.startswith(prefix)
    return pattern.__eq__


def exact_matcher(pattern: str) -> StrMatch:
    """StringMatcherExact without `*` handling (request principal halves)."""
    return pattern.__eq__


def suffix_matcher(suffix: str) -> StrMatch:
    return lambda value: value.endswith(suffix)


def prefix_matcher(prefix: str) -> StrMatch:
    return lambda value: value.startswith(prefix)


def non_empty_matcher() -> StrMatch:
    """Regex `.+` (matchAny in generator.go)."""
    return _non_empty


def header_matcher(pattern: str) -> StrMatch | None:
    """HeaderMatcher(k, v) on the joined value; None means presence (`*`), decided by the caller."""
    if pattern == WILDCARD:
        return None
    return string_matcher(pattern)


def _ascii_lower(text: str) -> str:
    """absl::AsciiStrToLower: only A-Z change (Envoy's ignore_case never folds non-ASCII)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def host_matcher(pattern: str) -> StrMatch | None:
    """HostMatcher(k, v): like header_matcher but ignore_case; None means presence."""
    if pattern == WILDCARD:
        return None
    if pattern.startswith(WILDCARD):
        suffix = _ascii_lower(pattern[1:])
        return lambda value: _ascii_lower(value).endswith(suffix)
    if pattern.endswith(WILDCARD):
        prefix = _ascii_lower(pattern[:-1])
        return lambda value: _ascii_lower(value).startswith(prefix)
    exact = _ascii_lower(pattern)
    return lambda value: _ascii_lower(value) == exact


def host_variants(host: str) -> tuple[str, ...]:
    """The host as sent, and without its trailing dots and/or `:port` (`[v6]:port` keeps its brackets).

    meshgate's broad host match (docs/security.md): `Example.COM.:8080` also reads as `Example.COM`.
    """
    name, port = host, ""
    if host.startswith("["):
        end = host.find("]")
        if end > 0:
            name, port = host[: end + 1], host[end + 1 :]
    elif host.count(":") == 1:
        at = host.index(":")
        name, port = host[:at], host[at:]
    bare = name.rstrip(".")
    return tuple(dict.fromkeys((host, bare + port, name, bare)))


def value_matcher(match: StrMatch) -> ValueMatch:
    """Envoy ValueMatcher.string_match: a non-string value (number, bool, object, list) never matches."""
    return lambda value: isinstance(value, str) and match(value)


def list_or_value_matcher(match: StrMatch) -> ValueMatch:
    """Istio's extended JWT claim matcher: a string claim, or any string element of a list claim."""

    def matches(value: Any) -> bool:
        if isinstance(value, str):
            return match(value)
        if isinstance(value, list):
            return any(isinstance(item, str) and match(item) for item in value)
        return False

    return matches


def any_of(matchers: list[StrMatch]) -> StrMatch:
    """OR of string matchers (one compiled function per field)."""
    if len(matchers) == 1:
        return matchers[0]
    options = tuple(matchers)
    return lambda value: any(m(value) for m in options)


__all__ = [
    "StrMatch",
    "Unparsable",
    "ValueMatch",
    "any_of",
    "exact_matcher",
    "header_matcher",
    "host_matcher",
    "host_variants",
    "list_or_value_matcher",
    "non_empty_matcher",
    "prefix_matcher",
    "string_matcher",
    "suffix_matcher",
    "value_matcher",
]
