"""Compact JWS parsing in jwt_verify_lib's check order and statuses, with meshgate's safe answers.

Source: envoyproxy/envoy:source/common/jwt/jwt.cc Jwt::parseFromString and struct_utils.cc (GetString,
GetUInt64, GetStringList). Numbers are protobuf doubles: `iat`/`nbf`/`exp` must be JSON numbers (not
bools), negative or ≥ 2^64 → "out of range", a fraction truncated toward zero (RFC 7519 §2 NumericDate
allows one). Every check, its order and status are Envoy's; each row is pinned in tests/jose/test_jws.py
and asked of a real Envoy 1.40 in tests/parity/test_spelling.py and test_numeric_dates.py.

meshgate refuses more (docs/security.md "JWS"), in two ways:
- *refused now*, with the status Envoy gives the same bytes or, for the size bounds Envoy does not have,
  the segment's: a token longer than MAX_TOKEN_CHARS (JwtBadFormat); JSON nested deeper than 32 or with a
  number literal longer than 64 characters (the segment's JSON status; b64.py);
- *refused after Envoy's checks* (`ParsedJwt.refusal`): the token is parsed as Envoy parses it and the
  authenticator verifies it as Envoy would — issuer, time, audience, signature — so that where Envoy
  refuses for any reason both give Envoy's answer; only a token Envoy would accept gets `refusal`:
  - empty segments (`a..b.c`, a leading or trailing dot; Envoy skips them) → JwtBadFormat;
  - a segment that is not canonical base64url (padding, whitespace, non-zero trailing bits; absl accepts
    them) → that segment's Base64url status: one token, one spelling;
  - a `crit` header (RFC 7515 §4.1.11: no extension is understood) or a nested token (`cty: JWT`,
    RFC 7519 §5.2) → JwtHeaderParseErrorBadJson; `jwk`/`jku`/`x5u`/`x5c` are never read;
  - `exp` present but 0 after truncation → JwtExpired (Envoy reads 0 as "never expires").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from meshgate.jose.b64 import b64url_decode, b64url_decode_strict, load_token_json
from meshgate.jose.status import JwtStatus

MAX_TOKEN_CHARS = 16 * 1024  # meshgate's bound (docs/security.md "Size and depth limits")
# jwt.cc isImplemented
IMPLEMENTED_ALGS = frozenset(
    {
        "ES256",
        "ES384",
        "ES512",
        "HS256",
        "HS384",
        "HS512",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "EdDSA",
    }
)
_UINT64_LIMIT = float(2**64)  # static_cast<double>(numeric_limits<uint64_t>::max()) rounds to 2^64
_UINT64_INT_LIMIT = 2**53  # ints below it are exact doubles: _uint64 returns them unchanged

# RFC 7515 §4.1.11: a recipient that understands no extension must reject any `crit`.
CRIT_HEADER = "crit"
# RFC 7519 §5.2: `cty: JWT` announces a nested JWT; meshgate verifies one signature layer only.
NESTED_CTY = frozenset({"jwt", "application/jwt"})

_S = JwtStatus
# (claim, not-a-number status, out-of-range status), in jwt.cc's order
_TIME_CLAIMS = (
    ("iat", _S.JWT_PAYLOAD_PARSE_ERROR_IAT_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_IAT_OUT_OF_RANGE),
    ("nbf", _S.JWT_PAYLOAD_PARSE_ERROR_NBF_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_NBF_OUT_OF_RANGE),
    ("exp", _S.JWT_PAYLOAD_PARSE_ERROR_EXP_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_EXP_OUT_OF_RANGE),
)


@dataclass(slots=True)
class ParsedJwt:
    """A token as jwt_verify_lib parsed it. Absent strings are "" and absent times 0, as in jwt_verify_lib.

    `refusal` is meshgate's answer for a token Envoy would accept (see the module docstring); the
    authenticator returns it once Envoy's own checks have passed. A plain record, compared by value: one is
    built per token not seen before, then kept by the verified-token cache.
    """

    token: str
    header: dict[str, Any]
    payload: dict[str, Any]
    payload_b64: str  # as received; Envoy forwards exactly this in outputPayloadToHeader
    signing_input: bytes
    signature: bytes
    alg: str
    kid: str
    iss: str
    sub: str
    has_sub: bool
    aud: tuple[str, ...]
    iat: int
    nbf: int
    exp: int
    refusal: JwtStatus | None = None


def _uint64(payload: dict[str, Any], name: str) -> int | bool | None:
    """struct_utils.cc GetUInt64: int value (truncated), None when absent, False = wrong type, True = out of range."""
    if name not in payload:
        return None
    value = payload[name]
    kind = type(value)
    if kind is not int and kind is not float:
        return False
    try:
        number = float(value)
    except OverflowError:  # an integer literal beyond double range
        return True
    if number != number or number < 0 or number >= _UINT64_LIMIT:  # NaN cannot come from JSON; be safe
        return True
    return int(number)


def _decode(segment: str, status: JwtStatus) -> tuple[bytes, JwtStatus | None] | JwtStatus:
    """(bytes, refusal) for a segment absl decodes: refusal = `status` when it is not canonical."""
    raw = b64url_decode_strict(segment)
    if raw is not None:
        return raw, None
    raw = b64url_decode(segment)
    return status if raw is None else (raw, status)


class _HeaderInfo(NamedTuple):
    """What a header segment tells, parsed once per distinct segment."""

    header: dict[str, Any]
    alg: str
    kid: str
    refusal: JwtStatus | None  # meshgate's (not canonical base64url, `crit`, a nested token)


class HeaderMemo(dict[str, _HeaderInfo | JwtStatus]):
    """Header segments already parsed: an issuer signs many tokens with one header, and its parse is pure.

    Owned by whoever parses (an Authenticator), bounded: past `max_entries` the oldest entry goes. A dict, so
    a hit costs what a dict lookup costs.
    """

    __slots__ = ("max_entries",)

    def __init__(self, max_entries: int = 1024) -> None:
        super().__init__()
        self.max_entries = max_entries

    def remember(self, header_b64: str, info: _HeaderInfo | JwtStatus) -> None:
        if len(self) >= self.max_entries:
            del self[next(iter(self))]
        self[header_b64] = info


def _parse_header(header_b64: str) -> _HeaderInfo | JwtStatus:
    """jwt.cc header checks, in order: base64, JSON object, alg string, alg implemented, kid string.

    The refusal (4th item) is meshgate's: not canonical base64url, or a `crit` / nested-token header.
    """
    decoded = _decode(header_b64, _S.JWT_HEADER_PARSE_ERROR_BAD_BASE64)
    if isinstance(decoded, JwtStatus):
        return decoded
    header_raw, refusal = decoded
    header = load_token_json(header_raw)
    if header is None:
        return _S.JWT_HEADER_PARSE_ERROR_BAD_JSON
    alg = header.get("alg")
    if not isinstance(alg, str):
        return _S.JWT_HEADER_BAD_ALG
    if alg not in IMPLEMENTED_ALGS:
        return _S.JWT_HEADER_NOT_IMPLEMENTED_ALG
    kid = header.get("kid", "")
    if not isinstance(kid, str):
        return _S.JWT_HEADER_BAD_KID
    if refusal is None and (CRIT_HEADER in header or _nested(header.get("cty"))):
        refusal = _S.JWT_HEADER_PARSE_ERROR_BAD_JSON
    return _HeaderInfo(header, alg, kid, refusal)


def _nested(cty: Any) -> bool:
    return isinstance(cty, str) and cty.lower() in NESTED_CTY


def _segments(token: str) -> tuple[list[str], JwtStatus | None] | JwtStatus:
    """jwt.cc: StrSplit(jwt, '.', SkipEmpty()) must give 3 pieces; skipped empty ones are meshgate's refusal."""
    if len(token) > MAX_TOKEN_CHARS:
        return _S.JWT_BAD_FORMAT
    pieces = token.split(".")
    if len(pieces) == 3 and pieces[0] and pieces[1] and pieces[2]:
        return pieces, None
    pieces = [p for p in pieces if p]
    return (pieces, _S.JWT_BAD_FORMAT) if len(pieces) == 3 else _S.JWT_BAD_FORMAT


def parse_jwt(token: str, headers: HeaderMemo | None = None) -> ParsedJwt | JwtStatus:
    """Parse a compact JWS as jwt.cc does: the first failing check's status, else the parsed token.

    Each segment is first read as canonical base64url; only a segment that is not takes absl's lenient
    reading (and meshgate's refusal): the spelling every issuer uses costs one C pass.
    """
    pieces = token.split(".") if len(token) <= MAX_TOKEN_CHARS else ()
    if len(pieces) == 3 and pieces[0] and pieces[1] and pieces[2]:
        refusal = None
    else:
        split = _segments(token)
        if isinstance(split, JwtStatus):
            return split
        pieces, refusal = split
    header_b64, payload_b64, signature_b64 = pieces

    header_info = None if headers is None else headers.get(header_b64)
    if header_info is None:
        header_info = _parse_header(header_b64)
        if headers is not None:
            headers.remember(header_b64, header_info)
    if isinstance(header_info, JwtStatus):
        return header_info
    header, alg, kid, header_refusal = header_info
    refusal = refusal or header_refusal

    payload_raw = b64url_decode_strict(payload_b64)
    if payload_raw is None:
        payload_raw = b64url_decode(payload_b64)
        if payload_raw is None:
            return _S.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64
        refusal = refusal or _S.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64
    payload = load_token_json(payload_raw)
    if payload is None:
        return _S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON
    iss = payload.get("iss", "")
    if not isinstance(iss, str):
        return _S.JWT_PAYLOAD_PARSE_ERROR_ISS_NOT_STRING
    sub = payload.get("sub", "")
    if not isinstance(sub, str):
        return _S.JWT_PAYLOAD_PARSE_ERROR_SUB_NOT_STRING
    iat, nbf, exp = payload.get("iat", 0), payload.get("nbf", 0), payload.get("exp", 0)
    if not (  # the common case: absent or plain ints, exactly what _uint64 answers for them
        type(iat) is int
        and type(nbf) is int
        and type(exp) is int
        and 0 <= iat < _UINT64_INT_LIMIT
        and 0 <= nbf < _UINT64_INT_LIMIT
        and 0 <= exp < _UINT64_INT_LIMIT
    ):
        times = _times(payload)
        if isinstance(times, JwtStatus):
            return times
        iat, nbf, exp = times
    if not isinstance(payload.get("jti", ""), str):
        return _S.JWT_PAYLOAD_PARSE_ERROR_JTI_NOT_STRING
    aud = _audiences(payload) if "aud" in payload else ()
    if aud is None:
        return _S.JWT_PAYLOAD_PARSE_ERROR_AUD_NOT_STRING

    signature = b64url_decode_strict(signature_b64)
    signature_refusal = None
    if signature is None:
        signature = b64url_decode(signature_b64)
        if signature is None:
            return _S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64
        signature_refusal = _S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64
    if refusal is None:
        refusal = signature_refusal or (_S.JWT_EXPIRED if exp == 0 and "exp" in payload else None)
    return ParsedJwt(  # positional, in field order (one is built per new token); verify.cc signs the two
        token, header, payload, payload_b64, f"{header_b64}.{payload_b64}".encode(),  # segments, one dot
        signature, alg, kid, iss, sub, "sub" in payload, aud, iat, nbf, exp, refusal,
    )  # fmt: skip


def _times(payload: dict[str, Any]) -> tuple[int, int, int] | JwtStatus:
    """iat, nbf, exp as struct_utils.cc GetUInt64 reads them (absent = 0); the first failure's status."""
    times = [0, 0, 0]
    for i, (name, not_number, out_of_range) in enumerate(_TIME_CLAIMS):
        value = _uint64(payload, name)
        if value is False:
            return not_number
        if value is True:
            return out_of_range
        if value is not None:
            times[i] = value
    return times[0], times[1], times[2]


def _audiences(payload: dict[str, Any]) -> tuple[str, ...] | None:
    """struct_utils.cc GetStringList: a string, or a list of strings only; None = wrong type."""
    if "aud" not in payload:
        return ()
    aud = payload["aud"]
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return tuple(aud)
    return None


def verify_time(parsed: ParsedJwt, now: int, skew: int) -> JwtStatus:
    """jwt.cc verifyTimeConstraint: nbf first, then exp; `exp` 0 (or absent) never expires here."""
    if now + skew < parsed.nbf:
        return _S.JWT_NOT_YET_VALID
    if parsed.exp and now > parsed.exp + skew:
        return _S.JWT_EXPIRED
    return _S.OK
