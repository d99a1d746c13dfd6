"""Compact JWS parsing in jwt_verify_lib's check order and statuses, with meshgate's safe answers.

Source: envoyproxy/envoy:source/common/jwt/jwt.cc Jwt::parseFromString and struct_utils.cc (GetString,
GetUInt64, GetStringList). Numbers are protobuf doubles: `iat`/`nbf`/`exp` must be JSON numbers (not
bools), negative or ≥ 2^64 → "out of range". Kept from Envoy: the order of the checks and every status.

Where Envoy is lenient meshgate rejects (docs/security.md "JWS"; each row pinned in tests/engine/test_jws.py):
- exactly three non-empty segments (Envoy skips empty ones, so `a..b.c` parses there) → JwtBadFormat;
  a token longer than MAX_TOKEN_CHARS → JwtBadFormat (Envoy: only its 60 KiB header limit);
- segments must be canonical base64url (no `=`, whitespace or non-zero trailing bits) → the segment's
  Base64 status; header and payload JSON must have unique names, bounded depth and short numbers → the
  segment's JSON status;
- a `crit` header (RFC 7515 §4.1.11: no extension is understood) or a nested token (`cty: JWT`,
  RFC 7519 §5.2) → JwtHeaderParseErrorBadJson; `jwk`/`jku`/`x5u`/`x5c` are never read;
- `nbf`/`exp` with a fraction → "not an integer" (Envoy truncates); `exp: 0` → JwtExpired at the time
  check (Envoy reads 0 as "never expires").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshgate.engine.b64 import b64url_decode_strict, load_token_json
from meshgate.engine.status import JwtStatus

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
# (claim, not-a-number status, out-of-range status, must be a whole number), in jwt.cc's order
_TIME_CLAIMS = (
    ("iat", _S.JWT_PAYLOAD_PARSE_ERROR_IAT_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_IAT_OUT_OF_RANGE, False),
    ("nbf", _S.JWT_PAYLOAD_PARSE_ERROR_NBF_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_NBF_OUT_OF_RANGE, True),
    ("exp", _S.JWT_PAYLOAD_PARSE_ERROR_EXP_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_EXP_OUT_OF_RANGE, True),
)


@dataclass(slots=True)
class ParsedJwt:
    """A syntactically valid token. Absent strings are "" and absent times 0, as in jwt_verify_lib.

    Treat as immutable (not frozen only because frozen dataclasses are slow to build on the hot path).
    """

    token: str
    header: dict[str, Any]
    payload: dict[str, Any]
    header_b64: str
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
    has_exp: bool = False  # `exp` present (then 0 is expired, not "never expires")


def _uint64(payload: dict[str, Any], name: str, whole: bool) -> int | bool | None:
    """struct_utils.cc GetUInt64: int value, None when absent, False = wrong type, True = out of range.

    `whole`: a value with a fraction is the wrong type (meshgate; GetUInt64 truncates it).
    """
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
    if whole and kind is float and not number.is_integer():
        return False
    return int(number)


# Issuers sign many tokens with the same header segment: its (pure) parse is memoized, bounded.
_HEADER_MEMO_MAX = 1024
_HEADER_MEMO: dict[str, tuple[dict[str, Any], str, str] | JwtStatus] = {}


def _parse_header(header_b64: str) -> tuple[dict[str, Any], str, str] | JwtStatus:
    """jwt.cc header checks, in order: base64, JSON object, alg string, alg implemented, kid string.

    meshgate adds to the JSON check: no `crit`, no nested token (`cty: JWT`).
    """
    header_raw = b64url_decode_strict(header_b64)
    if header_raw is None:
        return _S.JWT_HEADER_PARSE_ERROR_BAD_BASE64
    header = load_token_json(header_raw)
    if header is None or CRIT_HEADER in header or _nested(header.get("cty")):
        return _S.JWT_HEADER_PARSE_ERROR_BAD_JSON
    alg = header.get("alg")
    if not isinstance(alg, str):
        return _S.JWT_HEADER_BAD_ALG
    if alg not in IMPLEMENTED_ALGS:
        return _S.JWT_HEADER_NOT_IMPLEMENTED_ALG
    kid = header.get("kid", "")
    if not isinstance(kid, str):
        return _S.JWT_HEADER_BAD_KID
    return header, alg, kid


def _nested(cty: Any) -> bool:
    return isinstance(cty, str) and cty.lower() in NESTED_CTY


def parse_jwt(token: str) -> ParsedJwt | JwtStatus:
    """Parse a compact JWS; the first failing check's status, in jwt.cc's order."""
    if len(token) > MAX_TOKEN_CHARS:
        return _S.JWT_BAD_FORMAT
    pieces = token.split(".")
    if len(pieces) != 3 or not (pieces[0] and pieces[1] and pieces[2]):
        return _S.JWT_BAD_FORMAT  # JWE (5), extra dots, empty segments (Envoy skips empty ones)
    header_b64, payload_b64, signature_b64 = pieces

    header_info = _HEADER_MEMO.get(header_b64)
    if header_info is None:
        header_info = _parse_header(header_b64)
        if len(_HEADER_MEMO) >= _HEADER_MEMO_MAX:
            _HEADER_MEMO.clear()
        _HEADER_MEMO[header_b64] = header_info
    if isinstance(header_info, JwtStatus):
        return header_info
    header, alg, kid = header_info

    payload_raw = b64url_decode_strict(payload_b64)
    if payload_raw is None:
        return _S.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64
    payload = load_token_json(payload_raw)
    if payload is None:
        return _S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON
    iss = payload.get("iss", "")
    if not isinstance(iss, str):
        return _S.JWT_PAYLOAD_PARSE_ERROR_ISS_NOT_STRING
    sub = payload.get("sub", "")
    if not isinstance(sub, str):
        return _S.JWT_PAYLOAD_PARSE_ERROR_SUB_NOT_STRING
    times = [0, 0, 0]
    for i, (name, not_number, out_of_range, whole) in enumerate(_TIME_CLAIMS):
        value = payload.get(name)
        if type(value) is int and 0 <= value < _UINT64_INT_LIMIT:
            times[i] = value  # the common case, exactly what _uint64 answers for it
            continue
        value = _uint64(payload, name, whole)
        if value is False:
            return not_number
        if value is True:
            return out_of_range
        if value is not None:
            times[i] = value
    if not isinstance(payload.get("jti", ""), str):
        return _S.JWT_PAYLOAD_PARSE_ERROR_JTI_NOT_STRING
    aud = _audiences(payload)
    if aud is None:
        return _S.JWT_PAYLOAD_PARSE_ERROR_AUD_NOT_STRING

    signature = b64url_decode_strict(signature_b64)
    if signature is None:
        return _S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64
    return ParsedJwt(
        token,
        header,
        payload,
        header_b64,
        payload_b64,
        f"{header_b64}.{payload_b64}".encode(),
        signature,
        alg,
        kid,
        iss,
        sub,
        "sub" in payload,
        aud,
        times[0],
        times[1],
        times[2],
        "exp" in payload,
    )


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
    """jwt.cc verifyTimeConstraint: nbf first, then exp; an absent exp never expires, `exp: 0` has."""
    if now + skew < parsed.nbf:
        return _S.JWT_NOT_YET_VALID
    if parsed.has_exp and (parsed.exp == 0 or now > parsed.exp + skew):
        return _S.JWT_EXPIRED
    return _S.OK
