"""Compact-JWS parsing: one row per parse status (envoyproxy/envoy source/common/jwt/jwt.cc)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshgate.engine.b64 import MAX_JSON_DEPTH, b64url_decode, b64url_encode, load_json_object
from meshgate.engine.jws import MAX_TOKEN_CHARS, ParsedJwt, parse_jwt, verify_time
from meshgate.engine.status import JwtStatus as S

SIG = b64url_encode(b"signature")
GOOD_HEADER = {"alg": "RS256", "kid": "k1"}


def seg(value: Any) -> str:
    return b64url_encode(value.encode() if isinstance(value, str) else json.dumps(value).encode())


def tok(header: Any = None, payload: Any = None, sig: str = SIG) -> str:
    return f"{seg(GOOD_HEADER if header is None else header)}.{seg({} if payload is None else payload)}.{sig}"


# jwt.cc parseFromString, in its check order
@pytest.mark.parametrize(
    ("token", "status"),
    [
        pytest.param("invalidToken", S.JWT_BAD_FORMAT, id="no-dots"),
        pytest.param("a.b", S.JWT_BAD_FORMAT, id="two-pieces"),
        pytest.param("a.b.c.d", S.JWT_BAD_FORMAT, id="four-pieces"),
        pytest.param(f"{seg(GOOD_HEADER)}.{seg({})}.", S.JWT_BAD_FORMAT, id="empty-signature-skipped"),
        pytest.param(f"{seg(GOOD_HEADER)}..{seg({})}", S.JWT_BAD_FORMAT, id="empty-middle-skipped"),
        pytest.param("x" * (MAX_TOKEN_CHARS + 1), S.JWT_BAD_FORMAT, id="oversize"),
        pytest.param(f"a+b.{seg({})}.{SIG}", S.JWT_HEADER_PARSE_ERROR_BAD_BASE64, id="header-std-alphabet"),
        pytest.param(f"A.{seg({})}.{SIG}", S.JWT_HEADER_PARSE_ERROR_BAD_BASE64, id="header-dangling-char"),
        pytest.param(tok(header="not json"), S.JWT_HEADER_PARSE_ERROR_BAD_JSON, id="header-not-json"),
        pytest.param(tok(header=["alg"]), S.JWT_HEADER_PARSE_ERROR_BAD_JSON, id="header-array"),
        pytest.param(tok(header='{"alg":NaN}'), S.JWT_HEADER_PARSE_ERROR_BAD_JSON, id="header-nan"),
        pytest.param(tok(header="[" * 100 + "]" * 100), S.JWT_HEADER_PARSE_ERROR_BAD_JSON, id="header-deep"),
        pytest.param(tok(header={"kid": "k"}), S.JWT_HEADER_BAD_ALG, id="alg-missing"),
        pytest.param(tok(header={"alg": 256}), S.JWT_HEADER_BAD_ALG, id="alg-number"),
        pytest.param(tok(header={"alg": "none"}), S.JWT_HEADER_NOT_IMPLEMENTED_ALG, id="alg-none"),
        pytest.param(tok(header={"alg": "rs256"}), S.JWT_HEADER_NOT_IMPLEMENTED_ALG, id="alg-case"),
        pytest.param(tok(header={"alg": "RS256", "kid": 1}), S.JWT_HEADER_BAD_KID, id="kid-number"),
        pytest.param(tok(header={"alg": "RS256", "kid": None}), S.JWT_HEADER_BAD_KID, id="kid-null"),
        pytest.param(f"{seg(GOOD_HEADER)}.a+b.{SIG}", S.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64, id="payload-b64"),
        pytest.param(tok(payload="[1]"), S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON, id="payload-array"),
        pytest.param(tok(payload="\xff"), S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON, id="payload-not-utf8-json"),
        pytest.param(tok(payload={"iss": 1}), S.JWT_PAYLOAD_PARSE_ERROR_ISS_NOT_STRING, id="iss"),
        pytest.param(tok(payload={"sub": ["a"]}), S.JWT_PAYLOAD_PARSE_ERROR_SUB_NOT_STRING, id="sub"),
        pytest.param(tok(payload={"iat": "1"}), S.JWT_PAYLOAD_PARSE_ERROR_IAT_NOT_INTEGER, id="iat-string"),
        pytest.param(tok(payload={"iat": -1}), S.JWT_PAYLOAD_PARSE_ERROR_IAT_OUT_OF_RANGE, id="iat-negative"),
        pytest.param(tok(payload={"nbf": True}), S.JWT_PAYLOAD_PARSE_ERROR_NBF_NOT_INTEGER, id="nbf-bool"),
        pytest.param(tok(payload={"nbf": 2**64}), S.JWT_PAYLOAD_PARSE_ERROR_NBF_OUT_OF_RANGE, id="nbf-2^64"),
        pytest.param(tok(payload={"exp": None}), S.JWT_PAYLOAD_PARSE_ERROR_EXP_NOT_INTEGER, id="exp-null"),
        pytest.param(
            tok(payload={"exp": -0.5}), S.JWT_PAYLOAD_PARSE_ERROR_EXP_OUT_OF_RANGE, id="exp-neg-frac"
        ),
        pytest.param(tok(payload='{"exp":1e400}'), S.JWT_PAYLOAD_PARSE_ERROR_EXP_OUT_OF_RANGE, id="exp-inf"),
        pytest.param(tok(payload={"jti": 5}), S.JWT_PAYLOAD_PARSE_ERROR_JTI_NOT_STRING, id="jti"),
        pytest.param(tok(payload={"aud": 5}), S.JWT_PAYLOAD_PARSE_ERROR_AUD_NOT_STRING, id="aud-number"),
        pytest.param(
            tok(payload={"aud": ["a", 1]}), S.JWT_PAYLOAD_PARSE_ERROR_AUD_NOT_STRING, id="aud-mixed"
        ),
        pytest.param(tok(sig="a+b"), S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64, id="signature-b64"),
        # order: the first failing check wins
        pytest.param(tok(header={"alg": 1, "kid": 1}), S.JWT_HEADER_BAD_ALG, id="alg-before-kid"),
        pytest.param(
            tok(payload={"iss": 1, "sub": 1}), S.JWT_PAYLOAD_PARSE_ERROR_ISS_NOT_STRING, id="iss-first"
        ),
        pytest.param(
            tok(payload={"exp": "x", "iat": "x"}), S.JWT_PAYLOAD_PARSE_ERROR_IAT_NOT_INTEGER, id="iat-first"
        ),
        pytest.param(
            tok(payload={"aud": 1}, sig="+"), S.JWT_PAYLOAD_PARSE_ERROR_AUD_NOT_STRING, id="aud-before-sig"
        ),
    ],
)
def test_parse_status(token: str, status: S) -> None:
    assert parse_jwt(token) is status


def test_parse_fields() -> None:
    payload = {"iss": "i", "sub": "s", "aud": "a", "iat": 1.9, "nbf": 2, "exp": 3.7, "x": {"y": 1}}
    token = tok(payload=payload)
    parsed = parse_jwt(token)
    assert isinstance(parsed, ParsedJwt)
    header_b64, payload_b64, _ = token.split(".")
    assert (parsed.alg, parsed.kid, parsed.iss, parsed.sub, parsed.aud) == ("RS256", "k1", "i", "s", ("a",))
    assert (parsed.iat, parsed.nbf, parsed.exp) == (1, 2, 3)  # fractions truncated (GetUInt64)
    assert parsed.signing_input == f"{header_b64}.{payload_b64}".encode()
    assert parsed.payload_b64 == payload_b64 and parsed.signature == b"signature"
    assert parsed.payload == payload and parsed.has_sub


def test_extra_empty_pieces_are_skipped() -> None:
    # jwt.cc: absl::StrSplit(..., SkipEmpty()) — `h..p.s` has three pieces; signing input is `h.p`
    h, p, s = tok(payload={"iss": "i"}).split(".")
    parsed = parse_jwt(f".{h}..{p}.{s}.")
    assert isinstance(parsed, ParsedJwt) and parsed.signing_input == f"{h}.{p}".encode()


def test_absent_claims_default() -> None:
    parsed = parse_jwt(tok(payload={}))
    assert isinstance(parsed, ParsedJwt)
    assert (parsed.iss, parsed.sub, parsed.has_sub, parsed.aud, parsed.exp, parsed.nbf) == (
        "",
        "",
        False,
        (),
        0,
        0,
    )


# absl WebSafeBase64Unescape leniency (abseil-cpp absl/strings/escaping.cc Base64UnescapeInternal)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QQ", b"A"),
        ("QQ==", b"A"),  # exact padding accepted
        ("QQ=", None),  # wrong pad count
        ("QQ..", b"A"),  # '.' is a pad character too
        ("QUI=", b"AB"),
        ("QUI==", None),
        ("QUJD=", None),  # no pad after a full quantum
        ("Q", None),  # 6 leftover bits
        ("QR", b"A"),  # non-zero trailing bits are not checked
        (" Q\tQ\n", b"A"),  # ASCII whitespace skipped
        ("a+b/", None),  # standard alphabet rejected
        ("_-_-", b"\xff\xef\xfe"),
        ("", b""),
        ("=", None),
        ("QQ=A", None),  # data after padding
    ],
)
def test_b64url_decode(text: str, expected: bytes | None) -> None:
    assert b64url_decode(text) == expected


def test_json_depth_limit() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert load_json_object('{"a":' + ok + "}") is None  # one deeper than the limit
    assert (
        load_json_object('{"a":' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}") is not None
    )
    assert load_json_object('{"a":"' + "[" * 500 + '"}') == {"a": "[" * 500}  # brackets inside strings


# jwt.cc verifyTimeConstraint with the default 60 s skew
@pytest.mark.parametrize(
    ("claims", "now", "status"),
    [
        ({"nbf": 1000}, 940, S.OK),
        ({"nbf": 1000}, 939, S.JWT_NOT_YET_VALID),
        ({"exp": 1000}, 1060, S.OK),
        ({"exp": 1000}, 1061, S.JWT_EXPIRED),
        ({"exp": 0}, 10**12, S.OK),  # exp 0 = never expires
        ({"nbf": 2000, "exp": 1000}, 1500, S.JWT_NOT_YET_VALID),  # nbf checked first
    ],
)
def test_verify_time(claims: dict[str, int], now: int, status: S) -> None:
    parsed = parse_jwt(tok(payload=claims))
    assert isinstance(parsed, ParsedJwt)
    assert verify_time(parsed, now, 60) is status
