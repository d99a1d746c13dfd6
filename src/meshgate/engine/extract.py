"""Where tokens are read from, exactly as Envoy's jwt_authn extractor (istio-semantics.md §1.4).

Source: envoyproxy/envoy:source/extensions/filters/http/jwt_authn/extractor.cc (ExtractorImpl),
source/common/http/utility.cc (parseAndDecodeQueryString, PercentEncoding::decode, forEachCookie).
- header: all values joined with ','; a non-empty prefix is searched anywhere (case-sensitive); the token
  is the first run of base64url-or-dot characters after it, or the whole value when there is none;
  an empty prefix takes the whole value. A missing prefix means no token at that location.
- query parameter: from the path after the first '?', split on '&' then the first '=', both sides
  percent-decoded (no '+' → space), first occurrence wins; `?name` alone yields an empty token.
- cookie: every Cookie header split on ';' (empty pieces skipped), name from the first non-space to '=',
  value after it with one pair of surrounding double quotes removed; first occurrence wins.
Each provider's locations are ordered headers (by name+prefix), then params, then cookies (sorted);
the authenticator pops tokens from the end.

`extract_every` is meshgate's addition (docs/security.md "More than one token"): every token at every
location — each prefix occurrence in a header, each repeated parameter or cookie — so that none the
upstream could read is left unverified (Envoy reads only the first).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_HEADER = "authorization"  # extractor.cc: Http::CustomHeaders::get().Authorization
DEFAULT_PREFIX = "Bearer "  # extractor.cc JwtConstValues BearerPrefix
DEFAULT_PARAM = "access_token"  # extractor.cc JwtConstValues AccessTokenParam

_JWT_RUN = re.compile(r"[A-Za-z0-9\-_.]+")  # extractor.cc ConstantBase64UrlEncodingCharsPlusDot
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


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


def _percent_decode(text: str) -> str:
    """Envoy PercentEncoding::decode: %XX with two hex digits → that byte; everything else as is."""
    if "%" not in text:
        return text
    raw = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), text)
    # Decoded bytes ≥ 0x80 form UTF-8 sequences in Envoy; re-read them the same way (latin-1 → utf-8).
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def parse_query(path: str) -> dict[str, str]:
    """Http::Utility::parseAndDecodeQueryString: first occurrence of a name wins."""
    params: dict[str, str] = {}
    for name, value in _query_pairs(path):
        params.setdefault(name, value)
    return params


def _query_pairs(path: str) -> list[tuple[str, str]]:
    """Every (name, value) of the query in order, decoded as parseAndDecodeQueryString decodes them."""
    start = path.find("?")
    if start < 0:
        return []
    pairs = []
    for piece in path[start + 1 :].split("&"):
        name, sep, value = piece.partition("=")  # an empty piece is an empty name with an empty value
        pairs.append((_percent_decode(name), _percent_decode(value) if sep else ""))
    return pairs


def parse_cookies(values: Sequence[str], wanted: frozenset[str]) -> dict[str, str]:
    """Http::Utility::parseCookies restricted to `wanted` names; first occurrence wins."""
    cookies: dict[str, str] = {}
    for name, value in _cookie_pairs(values, wanted):
        cookies.setdefault(name, value)
    return cookies


def _cookie_pairs(values: Sequence[str], wanted: frozenset[str]) -> list[tuple[str, str]]:
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


def extract_header_token(value: str, prefix: str) -> str | None:
    """extractor.cc extract() + extractJWT() for one header location."""
    if not prefix:
        return value
    pos = value.find(prefix)
    if pos < 0:
        return None
    match = _JWT_RUN.search(value, pos + len(prefix))
    return value if match is None else match.group()


def extract_all(
    locations: Sequence[Location], headers: Mapping[str, tuple[str, ...]], path: str
) -> tuple[str | None, ...]:
    """The token at every location (None where absent), read from the request as received.

    Envoy's extractor as written; the authenticator takes the same tokens as the first of `extract_every`'s
    (one pass for both), which tests/engine/test_extract.py pins equal to this over every Envoy row.
    """
    out: list[str | None] = []
    params: dict[str, str] | None = None
    cookies: dict[str, str] | None = None
    for loc in locations:
        if loc.kind == "header":
            values = headers.get(loc.name)
            out.append(None if values is None else extract_header_token(",".join(values), loc.prefix))
        elif loc.kind == "param":
            if params is None:
                params = parse_query(path)
            out.append(params.get(loc.name))
        else:
            if cookies is None:
                wanted = frozenset(x.name for x in locations if x.kind == "cookie")
                cookies = parse_cookies(headers.get("cookie", ()), wanted)
            out.append(cookies.get(loc.name))
    return tuple(out)


def header_tokens(value: str, prefix: str) -> list[str]:
    """Every token in a (joined) header value: Envoy's first, then one after each later prefix occurrence.

    The first is extract_header_token's (the whole value when no token characters follow the prefix).
    """
    if not prefix:
        return [value]
    pos = value.find(prefix)
    if pos < 0:
        return []
    match = _JWT_RUN.search(value, pos + len(prefix))
    if match is None:
        return [value]
    tokens = [match.group()]
    while True:
        pos = value.find(prefix, match.end())
        if pos < 0:
            return tokens
        match = _JWT_RUN.search(value, pos + len(prefix))
        if match is None:
            return tokens
        tokens.append(match.group())


def extract_every(
    locations: Sequence[Location], headers: Mapping[str, tuple[str, ...]], path: str
) -> tuple[tuple[str, ...], ...]:
    """Every token at every location, first one first (it is the token `extract_all` returns)."""
    out: list[tuple[str, ...]] = []
    params: list[tuple[str, str]] | None = None
    cookies: list[tuple[str, str]] | None = None
    for loc in locations:
        if loc.kind == "header":
            values = headers.get(loc.name)
            if values is None:
                out.append(())
            else:
                joined = values[0] if len(values) == 1 else ",".join(values)
                out.append(tuple(header_tokens(joined, loc.prefix)))
        elif loc.kind == "param":
            if params is None:
                params = _query_pairs(path)
            out.append(tuple(v for n, v in params if n == loc.name) if params else ())
        else:
            if cookies is None:
                wanted = frozenset(x.name for x in locations if x.kind == "cookie")
                cookies = _cookie_pairs(headers.get("cookie", ()), wanted)
            out.append(tuple(v for n, v in cookies if n == loc.name))
    return tuple(out)
