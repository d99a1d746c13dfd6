"""Fuzz the token parser, the base64url/JSON decoders and the JWKS parser: a status, never an exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings, run

from meshgate.jose import jwks
from meshgate.jose.b64 import b64url_decode, b64url_decode_strict, b64url_encode, load_token_json
from meshgate.jose.jws import ParsedJwt, parse_jwt, verify_time
from meshgate.jose.keys import KeySet
from meshgate.jose.status import JwtStatus

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
HEADER_KEYS = st.sampled_from(["alg", "kid", "typ", "crit", "cty", "jwk", "jku", "x5c", "b64", "x"])
ALGS = st.sampled_from(["RS256", "ES256", "HS256", "EdDSA", "none", "NONE", "rs256", ""])
CLAIM_KEYS = st.sampled_from(["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "x"])


@st.composite
def segments(draw: st.DrawFn, value: st.SearchStrategy[Any]) -> str:
    """A JSON value, base64url-encoded, sometimes mangled (padding, whitespace, alphabet, raw JSON)."""
    text = json.dumps(draw(value))
    encoded = b64url_encode(text.encode())
    mangle = draw(st.sampled_from(["none", "none", "pad", "space", "std", "raw", "cut", "dup"]))
    if mangle == "pad":
        return encoded + "=" * draw(st.integers(1, 3))
    if mangle == "space":
        at = draw(st.integers(0, len(encoded)))
        return encoded[:at] + " " + encoded[at:]
    if mangle == "std":
        return encoded.replace("-", "+").replace("_", "/")
    if mangle == "raw":
        return text
    if mangle == "cut":
        return encoded[: draw(st.integers(0, len(encoded)))]
    if mangle == "dup" and text.startswith("{") and len(text) > 2:
        return b64url_encode(("{" + text[1:-1] + "," + text[1:-1] + "}").encode())
    return encoded


HEADERS = st.fixed_dictionaries({"alg": ALGS}, optional={"kid": JSON}) | st.dictionaries(HEADER_KEYS, JSON)
PAYLOADS = st.dictionaries(CLAIM_KEYS, JSON | st.integers(-(2**70), 2**70) | st.floats())
TOKENS = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda parts, sep: sep.join(parts),
        st.tuples(segments(HEADERS), segments(PAYLOADS), st.text("AZaz09-_=+/.", max_size=40)),
        st.sampled_from([".", "..", " . ", "."]),
    ),
    st.lists(st.text("AZaz09-_.=", max_size=30), max_size=6).map(".".join),
)


@fuzz_settings(300)
@given(TOKENS, st.integers(0, 2**64))
def _parse(token: str, now: int) -> None:
    parsed = parse_jwt(token)
    assert isinstance(parsed, (ParsedJwt, JwtStatus))
    if isinstance(parsed, ParsedJwt) and parsed.refusal is None:  # what meshgate may accept
        pieces = token.split(".")
        assert len(pieces) == 3 and all(pieces)
        assert all(b64url_encode(b64url_decode_strict(p) or b"") == p for p in pieces)
        assert "crit" not in parsed.header
        assert isinstance(parsed.exp, int) and isinstance(parsed.nbf, int)
        assert parsed.exp != 0 or "exp" not in parsed.payload
        assert verify_time(parsed, now, 60) in (
            JwtStatus.OK,
            JwtStatus.JWT_EXPIRED,
            JwtStatus.JWT_NOT_YET_VALID,
        )
    elif isinstance(parsed, ParsedJwt):  # Envoy would accept the spelling; meshgate refuses it later
        assert parsed.refusal in REFUSALS


REFUSALS = {
    JwtStatus.JWT_BAD_FORMAT,
    JwtStatus.JWT_HEADER_PARSE_ERROR_BAD_BASE64,
    JwtStatus.JWT_HEADER_PARSE_ERROR_BAD_JSON,
    JwtStatus.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64,
    JwtStatus.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64,
    JwtStatus.JWT_EXPIRED,
}


def test_parse_jwt_never_raises() -> None:
    run(_parse)


@fuzz_settings()
@given(st.text(max_size=80) | st.binary(max_size=60).map(b64url_encode))
def _b64(text: str) -> None:
    strict = b64url_decode_strict(text)
    assert strict is None or b64url_encode(strict) == text  # one spelling per byte string
    lenient = b64url_decode(text)
    assert strict is None or lenient == strict


def test_base64url_decoders_never_raise() -> None:
    run(_b64)


@fuzz_settings()
@given(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def _json(raw: bytes) -> None:
    value = load_token_json(raw)
    assert value is None or isinstance(value, dict)


def test_token_json_never_raises() -> None:
    run(_json)


KEY_FIELDS = st.sampled_from(["kty", "kid", "alg", "n", "e", "crv", "x", "y", "k", "use", "x5c"])
KTY = st.sampled_from(["RSA", "EC", "oct", "OKP", "rsa", ""])
KEY_VALUES = (
    JSON | st.binary(max_size=80).map(b64url_encode) | st.sampled_from(["AQAB", "P-256", "Ed25519", "ES256"])
)
JWKS_DOCS = st.one_of(
    st.text(max_size=100),
    st.builds(
        lambda keys: json.dumps({"keys": keys}),
        st.lists(
            st.fixed_dictionaries({"kty": KTY}, optional={}).flatmap(
                lambda base: st.dictionaries(KEY_FIELDS, KEY_VALUES).map(lambda extra: {**extra, **base})
            )
            | JSON,
            max_size=4,
        ),
    ),
    JSON.map(json.dumps),
)


@fuzz_settings(200)
@given(JWKS_DOCS)
def _jwks(text: str) -> None:
    # the private parser: parse_jwks itself swallows every exception, which would hide a bug here
    keyset, errors = jwks._parse(text)
    assert isinstance(keyset, KeySet) and (keyset.status is JwtStatus.OK) == bool(keyset.keys)
    assert all(isinstance(e, JwtStatus) for e in errors)


def test_jwks_parser_never_raises() -> None:
    run(_jwks)
