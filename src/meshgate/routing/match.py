"""One route's match, compiled as istiod translates an HTTPMatchRequest and evaluated as Envoy evaluates it.

istio/istio pilot/pkg/networking/core/route/route.go (TranslateRouteMatch, translateHeaderMatch,
translateQueryParamMatch, canBeConvertedToPresentMatch, IsCatchAllRoute) gives the Envoy RouteMatch;
envoyproxy/envoy source/common/router/config_impl.cc (RouteEntryImplBase::matchRoute and the Prefix/Path/Regex
entries), source/common/http/header_utility.cc (HeaderDataBaseImpl::matchesHeaders: a repeated header
matches when one of its values does — what Envoy 1.40 answers, checked by tests/routing/test_envoy_parity.py —
a missing header never matches unless treat_missing_header_as_empty, present_match)
and source/common/router/config_utility.cc (QueryParameterMatcher: the first value of the parameter, as
written in the query, not percent-decoded) say how it matches. Paths are matched without query or fragment;
`ignoreUriCase` folds ASCII case for exact and prefix, never for a regex. All conditions are ANDed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from meshgate.config.networking.model import HttpMatch, StringMatch
from meshgate.config.networking.re2 import compile_re2


@dataclass(slots=True)
class Request:
    """What routing reads of a request. `path` is `:path` with its query, after meshgate's path normalization
    (Envoy normalizes before routing); `headers` are (lower-case name, value) in arrival order; `port` is the
    listener's; `sni` the TLS server name of an HTTPS connection."""

    port: int
    authority: str | None
    path: str
    method: str = "GET"
    headers: Sequence[tuple[str, str]] = ()
    scheme: str = "http"
    sni: str | None = None


def path_only(path: str) -> str:
    """Http::PathUtil::removeQueryAndFragment."""
    query = path.find("?")
    if query >= 0:
        path = path[:query]
    fragment = path.find("#")
    return path if fragment < 0 else path[:fragment]


class HeaderView:
    """A request's headers as Envoy's matchers see them: every value of a name, and the pseudo-headers."""

    __slots__ = ("_values", "query")

    def __init__(self, request: Request) -> None:
        values: dict[str, list[str]] = {}
        for name, value in request.headers:
            values.setdefault(name, []).append(value)
        values[":method"], values[":path"], values[":scheme"] = (
            [request.method],
            [request.path],
            [request.scheme],
        )
        if request.authority is not None:
            values[":authority"] = [request.authority]
        self._values = values
        self.query = _first_params(request.path)

    def get(self, name: str) -> list[str] | None:
        return self._values.get(name)


def _first_params(path: str) -> dict[str, str]:
    """QueryParamsMulti::parseQueryString: `a=1&b&a=2` → {a: 1, b: ""}; names and values as written."""
    start = path.find("?")
    if start < 0:
        return {}
    end = path.find("#", start)
    out: dict[str, str] = {}
    for part in path[start + 1 : end if end >= 0 else len(path)].split("&"):
        if part:
            name, _, value = part.partition("=")
            out.setdefault(name, value)
    return out


@dataclass(frozen=True, slots=True)
class StringMatcher:
    """envoy.type.matcher.v3.StringMatcher (exact, prefix, safe_regex), or present_match."""

    kind: str
    value: str = ""
    regex: re.Pattern[str] | None = None
    ignore_case: bool = False

    @classmethod
    def of(cls, match: StringMatch, ignore_case: bool = False) -> StringMatcher:
        regex = compile_re2(match.value) if match.kind == "regex" else None
        value = _ascii_lower(match.value) if ignore_case else match.value  # absl::AsciiStrToLower
        return cls(match.kind, value, regex, ignore_case and match.kind != "regex")

    def matches(self, value: str) -> bool:
        if self.kind == "present":
            return True
        if self.ignore_case:
            value = value.lower() if value.isascii() else _ascii_lower(value)
        if self.kind == "exact":
            return value == self.value
        if self.kind == "prefix":
            return value.startswith(self.value)
        return self.regex is not None and self.regex.fullmatch(value) is not None


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


@dataclass(frozen=True, slots=True)
class HeaderMatcher:
    name: str
    matcher: StringMatcher
    invert: bool = False
    missing_as_empty: bool = False

    def matches(self, headers: HeaderView) -> bool:
        values = headers.get(self.name)
        if self.matcher.kind == "present":
            return (values is not None) != self.invert
        if values is None:
            if not self.missing_as_empty:
                return False
            values = [""]
        return any(self.matcher.matches(v) for v in values) != self.invert


@dataclass(frozen=True, slots=True)
class RouteMatcher:
    """An Envoy RouteMatch: a path specifier, then headers and query parameters, all required."""

    path_kind: str  # "prefix" | "path" | "regex"
    path: StringMatcher
    headers: tuple[HeaderMatcher, ...] = ()
    query: tuple[tuple[str, StringMatcher], ...] = ()

    @property
    def prefix(self) -> str:
        """The prefix or path Envoy's prefix_rewrite replaces (the configured one, as written)."""
        return self.path.value

    def matches(self, path: str, headers: HeaderView) -> bool:
        return self.conditions(headers) and self.path.matches(path_only(path))

    def conditions(self, headers: HeaderView) -> bool:
        """The header and query parameter conditions (the path aside)."""
        if not all(h.matches(headers) for h in self.headers):
            return False
        for name, matcher in self.query:
            value = headers.query.get(name)
            if value is None or not matcher.matches(value):
                return False
        return True

    @property
    def catch_all(self) -> bool:
        """route.IsCatchAllRoute: prefix `/` or regex `.*`, no header or query condition."""
        everything = (self.path_kind == "prefix" and self.path.value == "/") or (
            self.path_kind == "regex" and self.path.value == ".*"
        )
        return everything and not self.headers and not self.query


def compile_match(match: HttpMatch | None) -> RouteMatcher:
    """TranslateRouteMatch: uri → path specifier (default prefix `/`), headers/withoutHeaders/method/authority/
    scheme → header matchers, queryParams → query parameter matchers."""
    if match is None:
        return RouteMatcher("prefix", StringMatcher("prefix", "/"))
    fold = match.ignore_uri_case
    uri = match.uri or StringMatch("prefix", "/")
    kind = {"exact": "path", "prefix": "prefix", "regex": "regex"}.get(uri.kind, "prefix")
    path = StringMatcher.of(uri, ignore_case=fold) if uri.kind != "present" else StringMatcher("prefix", "/")
    headers = [HeaderMatcher(name.lower(), StringMatcher.of(sm)) for name, sm in match.headers]
    headers += [
        HeaderMatcher(name.lower(), StringMatcher.of(sm), invert=True, missing_as_empty=sm.kind != "present")
        for name, sm in match.without_headers
    ]
    headers.sort(key=lambda h: h.name)
    for pseudo, sm in ((":method", match.method), (":authority", match.authority), (":scheme", match.scheme)):
        if sm is not None:
            headers.append(HeaderMatcher(pseudo, StringMatcher.of(sm)))
    query = tuple((name, StringMatcher.of(sm)) for name, sm in match.query_params)
    return RouteMatcher(kind, path, tuple(headers), query)
