"""The query string: read as Envoy reads it, and a verified token's parameter removed before proxying.

Reading follows envoyproxy/envoy:source/common/http/utility.cc QueryParamsMulti::parseAndDecodeQueryString:
the target after the first `?`, split on `&`, each piece at its first `=`, both sides percent-decoded
(PercentEncoding::decode: `%XX` only, no `+` → space); a piece without `=` is a name with an empty value.

Removal (`without_params`) is meshgate's, deliberately not Envoy's byte for byte (docs/security.md
"Where meshgate answers differently"): jwt_authn's JwtParamLocation::removeJwt (extractor.cc) re-serializes
the whole query from its decoded map (QueryParamsMulti::toString), so Envoy 1.40 sorts the remaining
parameters by name and forwards them percent-*decoded* — `?b=1&a=2` becomes `?a=2&b=1`, `x=a%26admin%3D1`
becomes the two parameters `x=a&admin=1`, `%20` a raw space the upstream refuses. meshgate removes every
piece whose decoded name is the token's and keeps every other piece byte for byte, in order. What both
do alike: every occurrence goes, a `?` with nothing left after it goes, and empty pieces (`a&&b`, a
trailing `&`) are not forwarded.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def percent_decode(text: str) -> str:
    """Envoy PercentEncoding::decode: %XX with two hex digits → that byte; everything else as is."""
    if "%" not in text:
        return text
    raw = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), text)
    # Decoded bytes ≥ 0x80 form UTF-8 sequences in Envoy; re-read them the same way (latin-1 → utf-8).
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def query_pairs(path: str) -> list[tuple[str, str]]:
    """Every (name, value) of the query in order, decoded as parseAndDecodeQueryString decodes them."""
    start = path.find("?")
    if start < 0:
        return []
    pairs = []
    query = path[start + 1 :]
    pieces = query.split("&")
    if not pieces[-1]:  # parseParameters stops at the end: a trailing `&` (or `?` alone) adds nothing
        pieces.pop()
    for piece in pieces:
        name, sep, value = piece.partition("=")  # an empty piece is an empty name with an empty value
        pairs.append((percent_decode(name), percent_decode(value) if sep else ""))
    return pairs


def without_params(path: str, names: Collection[str]) -> str:
    """`path` without every query piece whose decoded name is in `names`; other pieces kept verbatim.

    Empty pieces are dropped with them; no `?` is left when nothing remains (Envoy: replaceQueryString).
    A query holding none of `names` is returned as is.
    """
    start = path.find("?")
    if start < 0 or not names:
        return path
    pieces = path[start + 1 :].split("&")
    kept = [p for p in pieces if p and percent_decode(p.partition("=")[0]) not in names]
    if len(kept) == len(pieces):
        return path  # nothing of theirs: untouched
    return path[:start] + ("?" + "&".join(kept) if kept else "")


def removed_names(before: str, after: str) -> tuple[str, ...]:
    """Raw spellings of the parameter names present in `before`'s query and absent from `after`'s.

    An ext_authz gRPC answer names parameters to remove (OkHttpResponse.query_parameters_to_remove); each
    spelling is sent raw and decoded, so the proxy removes it whether it compares names decoded or not.
    """
    gone: dict[str, None] = {}
    kept = {piece.partition("=")[0] for piece in _pieces(after)}
    for piece in _pieces(before):
        raw = piece.partition("=")[0]
        if raw not in kept:
            gone[raw] = None
            gone[percent_decode(raw)] = None
    return tuple(gone)


def _pieces(path: str) -> list[str]:
    start = path.find("?")
    return [p for p in path[start + 1 :].split("&") if p] if start >= 0 else []
