"""The compact-JWS parser as it was before its fast paths: the plain reading the fast one must equal.

jose/jws.py and jose/b64.py take shortcuts on the common spelling (one C pass for canonical base64url, a
hook-free JSON parse whose duplicate names are ruled out by counting, the time claims read at once).
This module keeps the straightforward version — a regular expression for canonical base64url, a JSON
parser whose object hook refuses duplicate names, each check in jwt.cc's order one after another — so
tests/jose/test_jws_fast_paths.py can ask both the same questions. Shared with the product: only what the
fast paths did not touch (absl's lenient base64url, the bounds, _uint64, _audiences, the statuses).
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any

from meshgate.jose.b64 import MAX_NUMBER_CHARS, MAX_TOKEN_JSON_DEPTH, _too_deep, b64url_decode
from meshgate.jose.jws import (
    CRIT_HEADER,
    IMPLEMENTED_ALGS,
    MAX_TOKEN_CHARS,
    NESTED_CTY,
    ParsedJwt,
    _audiences,
    _uint64,
)
from meshgate.jose.status import JwtStatus

_S = JwtStatus
_CANONICAL = re.compile(r"[A-Za-z0-9_-]*")
_SIXTET = {ch: i for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_UNUSED_BITS = (0, 0, 0b1111, 0b11)
_PADDING = ("", "", "==", "=")
_TO_STD = bytes.maketrans(b"-_", b"+/")


def b64url_decode_strict(text: str) -> bytes | None:
    rem = len(text) % 4
    if rem == 1 or _CANONICAL.fullmatch(text) is None:
        return None
    if rem and _SIXTET[text[-1]] & _UNUSED_BITS[rem]:
        return None
    return binascii.a2b_base64((text + _PADDING[rem]).encode("ascii").translate(_TO_STD))


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _bounded(convert: Any) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise ValueError("number literal too long")
        return convert(text)

    return parse


_DECODER = json.JSONDecoder(
    parse_constant=_reject_constant,
    object_pairs_hook=_unique_object,
    parse_int=_bounded(int),
    parse_float=_bounded(float),
)


def load_token_json(raw: bytes) -> dict[str, Any] | None:
    try:
        text = raw.decode("utf-8")
        if _too_deep(text, MAX_TOKEN_JSON_DEPTH):
            return None
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _decode(segment: str, status: JwtStatus) -> tuple[bytes, JwtStatus | None] | JwtStatus:
    raw = b64url_decode_strict(segment)
    if raw is not None:
        return raw, None
    raw = b64url_decode(segment)
    return status if raw is None else (raw, status)


_TIME_CLAIMS = (
    ("iat", _S.JWT_PAYLOAD_PARSE_ERROR_IAT_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_IAT_OUT_OF_RANGE),
    ("nbf", _S.JWT_PAYLOAD_PARSE_ERROR_NBF_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_NBF_OUT_OF_RANGE),
    ("exp", _S.JWT_PAYLOAD_PARSE_ERROR_EXP_NOT_INTEGER, _S.JWT_PAYLOAD_PARSE_ERROR_EXP_OUT_OF_RANGE),
)


def parse_jwt(token: str) -> ParsedJwt | JwtStatus:
    if len(token) > MAX_TOKEN_CHARS:
        return _S.JWT_BAD_FORMAT
    pieces = token.split(".")
    refusal: JwtStatus | None = None
    if not (len(pieces) == 3 and all(pieces)):
        pieces = [p for p in pieces if p]
        if len(pieces) != 3:
            return _S.JWT_BAD_FORMAT
        refusal = _S.JWT_BAD_FORMAT
    header_b64, payload_b64, signature_b64 = pieces

    decoded = _decode(header_b64, _S.JWT_HEADER_PARSE_ERROR_BAD_BASE64)
    if isinstance(decoded, JwtStatus):
        return decoded
    header = load_token_json(decoded[0])
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
    cty = header.get("cty")
    nested = isinstance(cty, str) and cty.lower() in NESTED_CTY
    refusal = (
        refusal
        or decoded[1]
        or (_S.JWT_HEADER_PARSE_ERROR_BAD_JSON if CRIT_HEADER in header or nested else None)
    )

    decoded = _decode(payload_b64, _S.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64)
    if isinstance(decoded, JwtStatus):
        return decoded
    refusal = refusal or decoded[1]
    payload = load_token_json(decoded[0])
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

    decoded = _decode(signature_b64, _S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64)
    if isinstance(decoded, JwtStatus):
        return decoded
    if refusal is None:
        refusal = decoded[1] or (_S.JWT_EXPIRED if times[2] == 0 and "exp" in payload else None)
    return ParsedJwt(
        token=token,
        header=header,
        payload=payload,
        payload_b64=payload_b64,
        signing_input=f"{header_b64}.{payload_b64}".encode(),
        signature=decoded[0],
        alg=alg,
        kid=kid,
        iss=iss,
        sub=sub,
        has_sub="sub" in payload,
        aud=aud,
        iat=times[0],
        nbf=times[1],
        exp=times[2],
        refusal=refusal,
    )
