"""Compact-JWS parsing: one row per parse status (envoyproxy/envoy source/common/jwt/jwt.cc), and one per
safe answer where meshgate is stricter than Envoy (docs/security.md "JWS")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshgate.jose.b64 import (
    MAX_JSON_DEPTH,
    MAX_TOKEN_JSON_DEPTH,
    b64url_decode,
    b64url_decode_strict,
    b64url_encode,
    load_json_object,
)
from meshgate.jose.jws import MAX_TOKEN_CHARS, ParsedJwt, parse_jwt, verify_time
from meshgate.jose.status import JwtStatus as S

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
        pytest.param(f"{seg(GOOD_HEADER)}..", S.JWT_BAD_FORMAT, id="one-piece-two-empty"),
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


# struct_utils.cc GetUInt64: any JSON number in [0, 2^64) truncated toward zero (RFC 7519 §2 NumericDate may
# have a fraction); each edge asked of Envoy 1.40 in tests/parity/test_numeric_dates.py.
@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1800000000.5", 1800000000),
        ("1800000000.999", 1800000000),
        ("0.5", 0),
        ("-0.0", 0),  # not < 0
        ("1e-300", 0),
        ("1e10", 10**10),
        ("1E10", 10**10),
        ("1.5e9", 1500000000),
        ("18446744073709549568", 18446744073709549568),  # the largest double below 2^64
        ("4685989700.99999999999", 4685989701),  # the literal rounds to the next double first
    ],
)
@pytest.mark.parametrize("claim", ["iat", "nbf", "exp"])
def test_numeric_date_truncated(claim: str, literal: str, value: int) -> None:
    parsed = parse_jwt(tok(payload=f'{{"{claim}":{literal}}}'))
    assert isinstance(parsed, ParsedJwt)
    assert getattr(parsed, claim) == value


@pytest.mark.parametrize(
    ("literal", "kind"),
    [
        ("-0.5", "range"),
        ("-1e-300", "range"),
        ("-1", "range"),
        ("1.8446744073709552e19", "range"),  # == 2^64
        ("2e19", "range"),
        ("true", "type"),
        ('"1"', "type"),
        ("null", "type"),
        ("[1]", "type"),
        ("{}", "type"),
    ],
)
@pytest.mark.parametrize("claim", ["iat", "nbf", "exp"])
def test_numeric_date_refused(claim: str, literal: str, kind: str) -> None:
    name = f"JWT_PAYLOAD_PARSE_ERROR_{claim.upper()}_{'OUT_OF_RANGE' if kind == 'range' else 'NOT_INTEGER'}"
    assert parse_jwt(tok(payload=f'{{"{claim}":{literal}}}')) is S[name]


def test_parse_fields() -> None:
    payload = {"iss": "i", "sub": "s", "aud": "a", "iat": 1.9, "nbf": 2, "exp": 3.0, "x": {"y": 1}}
    token = tok(payload=payload)
    parsed = parse_jwt(token)
    assert isinstance(parsed, ParsedJwt)
    header_b64, payload_b64, _ = token.split(".")
    assert (parsed.alg, parsed.kid, parsed.iss, parsed.sub, parsed.aud) == ("RS256", "k1", "i", "s", ("a",))
    assert (parsed.iat, parsed.nbf, parsed.exp) == (1, 2, 3)  # iat's fraction truncated (GetUInt64)
    assert parsed.signing_input == f"{header_b64}.{payload_b64}".encode()
    assert parsed.payload_b64 == payload_b64 and parsed.signature == b"signature"
    assert parsed.payload == payload and parsed.has_sub


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"alg": "none"}, id="none"),
        pytest.param({"alg": "None"}, id="None"),
        pytest.param({"alg": "NONE"}, id="NONE"),
        pytest.param({"alg": "nOnE"}, id="nOnE"),
        pytest.param({"alg": "none "}, id="none-space"),
        pytest.param({"alg": "HS256 "}, id="alg-trailing-space"),
    ],
)
def test_alg_none_in_any_case_is_not_implemented(header: dict[str, str]) -> None:
    """CVE-2015-9235 class: jwt.cc isImplemented is an exact, case-sensitive list (Envoy already safe)."""
    assert parse_jwt(tok(header=header)) is S.JWT_HEADER_NOT_IMPLEMENTED_ALG
    assert parse_jwt(tok(header=header, sig="x")) is S.JWT_HEADER_NOT_IMPLEMENTED_ALG


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"jwk": {"kty": "oct", "k": "c2VjcmV0"}}, id="jwk"),
        pytest.param({"jku": "https://attacker.example/jwks.json"}, id="jku"),
        pytest.param({"x5u": "https://attacker.example/cert.pem"}, id="x5u"),
        pytest.param({"x5c": ["MIIB"]}, id="x5c"),
        pytest.param({"kid": "../../../../dev/null"}, id="kid-path-traversal"),
        pytest.param({"kid": "' OR 1=1 --"}, id="kid-sql"),
    ],
)
def test_key_hints_parse_but_are_only_data(extra: dict[str, object]) -> None:
    """They parse (Envoy ignores them too); signature.py never reads them: test_signature.py shows rejection."""
    parsed = parse_jwt(tok(header={"alg": "RS256", **extra}))
    assert isinstance(parsed, ParsedJwt)


def test_token_json_depth_limit() -> None:
    ok = "[" * (MAX_TOKEN_JSON_DEPTH - 1) + "]" * (MAX_TOKEN_JSON_DEPTH - 1)
    assert isinstance(parse_jwt(tok(payload='{"a":' + ok + "}")), ParsedJwt)
    assert parse_jwt(tok(payload='{"a":[' + ok + "]}")) is S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON


# canonical base64url only (RFC 7515 §2, RFC 4648 §3.5 "canonical encoding")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QQ", b"A"),
        ("QUI", b"AB"),
        ("QUJD", b"ABC"),
        ("_-_-", b"\xff\xef\xfe"),
        ("", b""),
        ("QQ==", None),  # padding
        ("QR", None),  # non-zero trailing bits (4 unused)
        ("QUJ", None),  # non-zero trailing bits (2 unused)
        ("Q", None),
        ("Q Q", None),
        ("QQ\n", None),
        ("a+b/", None),
        ("QQ.", None),
        ("é", None),
    ],
)
def test_b64url_decode_strict(text: str, expected: bytes | None) -> None:
    assert b64url_decode_strict(text) == expected


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
        ({}, 10**12, S.OK),  # no exp = never expires
        (
            {"exp": 0},
            10**12,
            S.OK,
        ),  # Envoy: exp 0 = never expires (meshgate's refusal: test_safe_parse_status)
        ({"nbf": 2000, "exp": 1000}, 1500, S.JWT_NOT_YET_VALID),  # nbf checked first
    ],
)
def test_verify_time(claims: dict[str, int], now: int, status: S) -> None:
    parsed = parse_jwt(tok(payload=claims))
    assert isinstance(parsed, ParsedJwt)
    assert verify_time(parsed, now, 60) is status
