"""Where tokens are read from, exactly as Envoy 1.40's jwt_authn extractor reads them.

Source: envoyproxy/envoy:source/extensions/filters/http/jwt_authn/extractor.cc (ExtractorImpl),
source/common/http/utility.cc (parseAndDecodeQueryString, forEachCookie), source/common/http/header_map_impl
(inline headers). Each behaviour below was observed on a real Envoy 1.40 (tests/parity/test_repeated_tokens.py).
- header: one token per header *entry*. Envoy stores the headers it knows "inline" (`INLINE_HEADERS`:
  Authorization among them) as one entry, the lines joined with ','; any other header keeps one entry per
  line. A value is read without its surrounding whitespace (the HTTP/1 codec trims it). With a non-empty
  prefix (case-sensitive, searched anywhere) the token is everything from the first base64url-or-dot
  character after it to the end of the entry — not just a run of such characters — or the whole entry when
  none follows; an entry without the prefix holds no token. An empty prefix takes the whole entry.
- query parameter: the first value of the name (query.py); `?name` alone yields an empty token.
- cookie: every Cookie header split on ';' (empty pieces skipped), name from the first non-space to '=',
  value after it with one pair of surrounding double quotes removed; the first occurrence wins.
Each provider's locations are ordered headers (by name+prefix), then params, then cookies (sorted);
the authenticator pops tokens from the end.

`Extractor` also returns what Envoy does not read (docs/security.md "More than one token"): every
repeated parameter and cookie, so that none the upstream could read is left unverified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from meshgate.authn.query import query_pairs

DEFAULT_HEADER = "authorization"  # extractor.cc: Http::CustomHeaders::get().Authorization
DEFAULT_PREFIX = "Bearer "  # extractor.cc JwtConstValues BearerPrefix
DEFAULT_PARAM = "access_token"  # extractor.cc JwtConstValues AccessTokenParam

# envoyproxy/envoy:envoy/http/header_map.h INLINE_REQ_*_HEADERS, and the request headers Envoy's standard
# build registers inline (Http::CustomHeaders users): repeated lines of these reach jwt_authn as one entry
# joined with ','. tests/parity/test_repeated_tokens.py asks Envoy 1.40 about every custom one and a few others.
INLINE_HEADERS = frozenset(
    {
        # built in (header_map.h)
        "connection", "content-length", "content-type", "expect", "grpc-timeout", "host", "keep-alive",
        "proxy-connection", "proxy-status", "te", "transfer-encoding", "upgrade", "user-agent", "via",
        "x-client-trace-id", "x-envoy-attempt-count", "x-envoy-decorator-operation",
        "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node", "x-envoy-expected-rq-timeout-ms",
        "x-envoy-external-address", "x-envoy-force-trace", "x-envoy-hedge-on-per-try-timeout",
        "x-envoy-internal", "x-envoy-ip-tags", "x-envoy-is-timeout-retry", "x-envoy-max-retries",
        "x-envoy-original-path", "x-envoy-original-url", "x-envoy-retriable-header-names",
        "x-envoy-retriable-status-codes", "x-envoy-retry-grpc-on", "x-envoy-retry-on",
        "x-envoy-upstream-alt-stat-name", "x-envoy-upstream-rq-per-try-timeout-ms",
        "x-envoy-upstream-rq-timeout-alt-response", "x-envoy-upstream-rq-timeout-ms",
        "x-envoy-upstream-stream-duration-ms", "x-forwarded-client-cert", "x-forwarded-for",
        "x-forwarded-host", "x-forwarded-proto", "x-request-id",
        # registered by extensions of the standard build (observed joined on Envoy 1.40)
        "accept", "accept-encoding", "access-control-request-headers", "access-control-request-method",
        "authorization", "cache-control", "content-encoding", "grpc-accept-encoding", "if-match",
        "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "origin", "pragma", "referer",
    }
)  # fmt: skip

# extractor.cc ConstantBase64UrlEncodingCharsPlusDot: where the token starts after the prefix
_TOKEN_START = re.compile(r"[A-Za-z0-9\-_.]")
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
_OWS = " \t"


@dataclass(frozen=True, slots=True)
class Location:
    """One place a token may be: kind "header" (lower-case name + prefix), "param" or "cookie"."""

    kind: str
    name: str
    prefix: str = ""

    def describe(self) -> str:
        if self.kind == "header":
            return f"header {self.name}" + (f" (prefix {self.prefix!r})" if self.prefix else "")
        return f"{'query parameter' if self.kind == 'param' else 'cookie'} {self.name}"


def order_locations(locations: Sequence[Location]) -> tuple[Location, ...]:
    """Deduplicate and order as ExtractorImpl does: std::map keys header+prefix, then params, cookies."""
    headers = sorted({loc for loc in locations if loc.kind == "header"}, key=lambda x: x.name + x.prefix)
    params = sorted({loc for loc in locations if loc.kind == "param"}, key=lambda x: x.name)
    cookies = sorted({loc for loc in locations if loc.kind == "cookie"}, key=lambda x: x.name)
    return (*headers, *params, *cookies)


def header_entries(name: str, values: Sequence[str]) -> tuple[str, ...]:
    """The entries jwt_authn sees for header `name`: one joined entry if Envoy keeps it inline."""
    if len(values) == 1:
        return (values[0].strip(_OWS),)
    if name in INLINE_HEADERS:
        return (",".join(v.strip(_OWS) for v in values),)
    return tuple(v.strip(_OWS) for v in values)


def header_token(entry: str, prefix: str) -> str | None:
    """extractor.cc extract() + extractJWT() for one header entry; None when the prefix is absent."""
    if not prefix:
        return entry
    pos = entry.find(prefix)
    if pos < 0:
        return None
    start = pos + len(prefix)
    if entry[start : start + 1] in _TOKEN_CHARS:  # the common `Bearer <token>`: no search needed
        return entry[start:]
    match = _TOKEN_START.search(entry, start)
    return entry if match is None else entry[match.start() :]


def cookie_pairs(values: Sequence[str], wanted: frozenset[str]) -> list[tuple[str, str]]:
    """Every wanted (name, value) of every Cookie header, in order (forEachCookie)."""
    pairs: list[tuple[str, str]] = []
    for header_value in values:
        for piece in header_value.split(";"):
            if not piece:
                continue
            eq = piece.find("=")
            if eq < 0:
                continue
            start = len(piece) - len(piece.lstrip(" "))
            name = piece[start:eq] if start <= eq else ""
            if name not in wanted:
                continue
            value = piece[eq + 1 :]
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            pairs.append((name, value))
    return pairs


class Extractor:
    """Every token at every location, in request order (`envoy_view` says which Envoy reads); what it needs
    of the locations is worked out once (an Authenticator's)."""

    __slots__ = ("cookie_names", "locations", "param_names")

    def __init__(self, locations: Sequence[Location]) -> None:
        self.locations = tuple(locations)
        self.param_names = tuple(loc.name for loc in self.locations if loc.kind == "param")
        self.cookie_names = frozenset(loc.name for loc in self.locations if loc.kind == "cookie")

    def __call__(self, headers: Mapping[str, tuple[str, ...]], path: str) -> tuple[tuple[str, ...], ...]:
        out: list[tuple[str, ...]] = []
        params: list[tuple[str, str]] | None = None
        cookies: list[tuple[str, str]] | None = None
        for loc in self.locations:
            kind = loc.kind
            if kind == "header":
                values = headers.get(loc.name)
                if values is None:
                    out.append(())
                elif len(values) == 1:  # the common request: one line, one entry
                    token = header_token(values[0].strip(_OWS), loc.prefix)
                    out.append(() if token is None else (token,))
                else:
                    found = (header_token(e, loc.prefix) for e in header_entries(loc.name, values))
                    out.append(tuple(t for t in found if t is not None))
            elif kind == "param":
                if params is None:
                    params = self._params(path)
                out.append(tuple([v for n, v in params if n == loc.name]) if params else ())
            else:
                if cookies is None:
                    cookies = cookie_pairs(headers.get("cookie", ()), self.cookie_names)
                out.append(tuple([v for n, v in cookies if n == loc.name]))
        return tuple(out)

    def _params(self, path: str) -> list[tuple[str, str]]:
        """query_pairs(path), or [] at once when no parameter can decode to a name a location reads.

        A name reaches the decoded query only as itself or through a `%` escape, so a query holding
        neither the literal name nor a `%` holds no token (the common request: `?page=2`).
        """
        start = path.find("?")
        if start < 0:
            return []
        if "%" not in path:
            query = path[start:]
            for name in self.param_names:
                if name in query:
                    break
            else:
                return []
        return query_pairs(path)


def envoy_view(
    locations: Sequence[Location], every: Sequence[tuple[str, ...]]
) -> tuple[tuple[str, ...], ...]:
    """The tokens Envoy's extractor returns per location: every header entry's, a param's or cookie's first."""
    return tuple(
        found if loc.kind == "header" or len(found) < 2 else found[:1]
        for loc, found in zip(locations, every, strict=True)
    )
