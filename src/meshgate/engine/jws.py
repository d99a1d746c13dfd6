"""Compact JWS parsing in jwt_verify_lib's exact check order and statuses (istio-semantics.md §2.3).

Source: envoyproxy/envoy:source/common/jwt/jwt.cc Jwt::parseFromString and struct_utils.cc (GetString,
GetUInt64, GetStringList). Numbers are protobuf doubles: `iat`/`nbf`/`exp` must be JSON numbers (not
bools), negative or ≥ 2^64 → "out of range", fractions truncated. Splitting on '.' skips empty pieces,
and the signing input is piece 0 + '.' + piece 1 (so `a..b.c` parses like `a.b.c`, as in Envoy).
A token longer than MAX_TOKEN_CHARS is refused as JwtBadFormat (meshgate's own bound; Envoy's header
size limit plays that role there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshgate.engine.b64 import b64url_decode, load_json_object
from meshgate.engine.status import JwtStatus

MAX_TOKEN_CHARS = 64 * 1024
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

_S = JwtStatus
# (claim, not-a-number status, out-of-range status), in jwt.cc's order
_TIME_CLAIMS = (
    ("iat", _S.JWT_PAYLOAD_PARSE_ERROR_IAT_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_IAT_OUT_OF_RANGE),
    ("nbf", _S.JWT_PAYLOAD_PARSE_ERROR_NBF_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_NBF_OUT_OF_RANGE),
    ("exp", _S.JWT_PAYLOAD_PARSE_ERROR_EXP_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_EXP_OUT_OF_RANGE),
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


def _uint64(payload: dict[str, Any], name: str) -> int | bool | None:
    """struct_utils.cc GetUInt64: int value, None when absent, False = wrong type, True = out of range."""
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


# Issuers sign many tokens with the same header segment: its (pure) parse is memoized, bounded.
_HEADER_MEMO_MAX = 1024
_HEADER_MEMO: dict[str, tuple[dict[str, Any], str, str] | JwtStatus] = {}


def _parse_header(header_b64: str) -> tuple[dict[str, Any], str, str] | JwtStatus:
    """jwt.cc header checks, in order: base64, JSON object, alg string, alg implemented, kid string."""
    header_raw = b64url_decode(header_b64)
    if header_raw is None:
        return _S.JWT_HEADER_PARSE_ERROR_BAD_BASE64
    header = load_json_object(header_raw)
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
    return header, alg, kid


def parse_jwt(token: str) -> ParsedJwt | JwtStatus:
    """Parse a compact JWS; the first failing check's status, exactly as jwt.cc orders them."""
    if len(token) > MAX_TOKEN_CHARS:
        return _S.JWT_BAD_FORMAT
    pieces = token.split(".")
    if len(pieces) != 3 or not (pieces[0] and pieces[1] and pieces[2]):
        pieces = [p for p in pieces if p]
        if len(pieces) != 3:
            return _S.JWT_BAD_FORMAT
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

    payload_raw = b64url_decode(payload_b64)
    if payload_raw is None:
        return _S.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64
    payload = load_json_object(payload_raw)
    if payload is None:
        return _S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON
    iss = payload.get("iss", "")
    if not isinstance(iss, str):
        return _S.JWT_PAYLOAD_PARSE_ERROR_ISS_NOT_STRING
    sub = payload.get("sub", "")
    if not isinstance(sub, str):
        return _S.JWT_PAYLOAD_PARSE_ERROR_SUB_NOT_STRING
    times = [0, 0, 0]
    for i, (name, not_number, out_of_range) in enumerate(_TIME_CLAIMS):
        value = _uint64(payload, name)
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

    signature = b64url_decode(signature_b64)
    if signature is None:
        return _S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64
    return ParsedJwt(
        token=token,
        header=header,
        payload=payload,
        header_b64=header_b64,
        payload_b64=payload_b64,
        signing_input=f"{header_b64}.{payload_b64}".encode(),
        signature=signature,
        alg=alg,
        kid=kid,
        iss=iss,
        sub=sub,
        has_sub="sub" in payload,
        aud=aud,
        iat=times[0],
        nbf=times[1],
        exp=times[2],
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
    """jwt.cc verifyTimeConstraint: nbf first, then exp (0 = never expires)."""
    if now + skew < parsed.nbf:
        return _S.JWT_NOT_YET_VALID
    if parsed.exp and now > parsed.exp + skew:
        return _S.JWT_EXPIRED
    return _S.OK
