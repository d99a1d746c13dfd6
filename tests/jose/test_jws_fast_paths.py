"""The parser's fast paths give the plain parser's answer on every input (tests/jose/jws_reference.py).

jose/b64.py decodes canonical base64url in one C pass and parses token JSON without an object hook,
ruling out duplicate names by counting colons; jose/jws.py reads the time claims at once. Each is pinned
here against the straightforward version it replaced, on tables of the inputs where a shortcut could go
wrong and on generated ones. Mutations caught: a duplicate name accepted when nested, inside a list,
spelled with an escape or hidden by a colon in a string; a colon count that ignores names; a number
literal past the bound accepted; `+`, `/`, `=` or whitespace taken as base64url; a time claim that is a
bool, a float or out of range read as an int; a status out of jwt.cc's order.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings, run
from tests.fuzz.test_fuzz_tokens import TOKENS
from tests.jose import jws_reference as reference

from meshgate.jose.b64 import _load_unique, b64url_decode_strict, b64url_encode, load_token_json
from meshgate.jose.jws import HeaderMemo, parse_jwt

RS256_HEADER = b64url_encode(b'{"alg":"RS256"}')
BIG = "1" * 64  # MAX_NUMBER_CHARS digits: the longest literal accepted


# Where counting colons could be fooled: each row is a JSON text, both parsers must agree on it.
@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"a":1,"a":2}', id="duplicate"),
        pytest.param('{"a":1,"b":{"c":1,"c":2}}', id="nested-duplicate"),
        pytest.param('{"a":[{"c":1,"c":2}]}', id="duplicate-in-list"),
        pytest.param('{"a":1,"\\u0061":2}', id="duplicate-spelled-with-escape"),
        pytest.param('{"a":"x:y","a":1}', id="duplicate-hidden-by-colon-in-value"),
        pytest.param('{"a:b":1,"a:b":2}', id="duplicate-names-with-colon"),
        pytest.param('{"a":"\\u003a","b":"x","b":"y"}', id="duplicate-offset-by-escaped-colon"),
        pytest.param('{"a":"\\u003a","a":1}', id="duplicate-with-escaped-colon"),
        pytest.param('{"a":{"b":"c"},"a":{"b":"c"}}', id="duplicate-equal-objects"),
        pytest.param('{"iss":"https://issuer.example/","sub":"u:1","aud":["urn:a","urn:b"]}', id="colons"),
        pytest.param('{"a":{"b":{"c":[1,{"d":"e:f"}]}},"g":[]}', id="nested-unique"),
        pytest.param('{"a":"\\\\:","b":"\\""}', id="escapes-unique"),
        pytest.param('{"a":{},"b":[]}', id="empty-containers"),
        pytest.param("{}", id="empty"),
        pytest.param(f'{{"n":{BIG}}}', id="number-at-bound"),
        pytest.param(f'{{"n":{BIG}1}}', id="number-past-bound"),
        pytest.param(f'{{"n":-{BIG[1:]}}}', id="negative-at-bound"),
        pytest.param(f'{{"n":-{BIG}}}', id="negative-past-bound"),
        pytest.param(f'{{"n":{BIG[2:]}.5}}', id="float-at-bound"),
        pytest.param(f'{{"n":{BIG}.5}}', id="float-past-bound"),
        pytest.param('{"n":NaN}', id="nan"),
        pytest.param('{"n":-Infinity}', id="infinity"),
        pytest.param(' {"a":1}', id="leading-space"),
        pytest.param('{"a":1}\n', id="trailing-newline"),
        pytest.param('{"a":1}x', id="trailing-garbage"),
        pytest.param('{"a":1}{"b":2}', id="two-objects"),
        pytest.param('{"a":1,}', id="trailing-comma"),
        pytest.param('{"a"}', id="no-value"),
        pytest.param("[1,2]", id="array"),
        pytest.param('"x"', id="string"),
        pytest.param('{"a":"\x01"}', id="control-character"),
        pytest.param("{" * 40 + "}" * 40, id="too-deep"),
    ],
)
def test_token_json_as_the_plain_parser(text: str) -> None:
    assert load_token_json(text.encode()) == reference.load_token_json(text.encode())


# What the count proves by itself (the hooked parser is not asked): unique names, with colons anywhere.
@pytest.mark.parametrize(
    ("text", "proven"),
    [
        ('{"iss":"https://issuer.example/","sub":"u"}', True),
        ('{"a":{"b:c":[{"d":"e:f"}]},"g":"h"}', True),
        ('{"a":1,"b":2}', True),
        ('{"a":"\\u003a"}', True),  # one name, one colon: the count needs no string
        ('{"a":"\\u003a","b":"c:d"}', False),  # an escape: the text's colons are not the value's
        ('{"a":1,"a":2}', False),
        ('{"a":"x:y","a":1}', False),
    ],
)
def test_what_the_count_proves(text: str, proven: bool) -> None:
    assert (_load_unique(text) is not None) is proven


RAW_STRINGS = st.sampled_from(["a", "b", "a:b", ":", "https://x/", "\\u0061", "\\u003a", "\\\\", '\\"', ""])
SCALARS = st.one_of(
    st.integers(-(10**66), 10**66).map(str),
    st.sampled_from(["1.5", "-0", "1e400", f"{BIG}.0", "true", "null", "NaN", "Infinity"]),
    RAW_STRINGS.map(lambda s: f'"{s}"'),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
        | st.lists(st.tuples(RAW_STRINGS, inner), max_size=4).map(
            lambda members: "{" + ",".join(f'"{name}":{value}' for name, value in members) + "}"
        )
    ),
    max_leaves=12,
)
TEXTS = st.tuples(st.sampled_from(["", " "]), VALUES, st.sampled_from(["", " ", "x"])).map("".join)


@fuzz_settings(300)
@given(TEXTS)
def _json(text: str) -> None:
    assert load_token_json(text.encode()) == reference.load_token_json(text.encode())


def test_token_json_as_the_plain_parser_generated() -> None:
    run(_json)


@pytest.mark.parametrize(
    "text",
    ["QQ", "QUI", "QUJD", "_-_-", "", "QQ==", "QR", "QUJ", "Q", "Q Q", "QQ\n", "a+b/", "QQ.", "é", "QQ!A"],
)
def test_canonical_base64url_as_the_regular_expression(text: str) -> None:
    assert b64url_decode_strict(text) == reference.b64url_decode_strict(text)


@fuzz_settings(300)
@given(
    st.text(max_size=40)
    | st.text("ABab09-_+/= .\n!", max_size=40)
    | st.binary(max_size=40).map(b64url_encode)
)
def _b64(text: str) -> None:
    assert b64url_decode_strict(text) == reference.b64url_decode_strict(text)


def test_canonical_base64url_as_the_regular_expression_generated() -> None:
    run(_b64)


HEADERS = st.sampled_from(['{"alg":"RS256"}', '{"alg":"RS256","kid":"k:1"}', '{"alg":"ES256","alg":"RS256"}'])
CLAIMS = st.sampled_from(
    ["iss", "sub", "iat", "nbf", "exp", "jti", "aud", "scope", "exp"]  # exp twice: duplicates happen
)
CLAIM_VALUES = st.one_of(
    SCALARS,
    st.sampled_from(["0", "1", "-1", "1.9", "18446744073709551616", "1e19", "true", '["a",1]', '["a:b"]']),
)
PAYLOADS = st.lists(st.tuples(CLAIMS, CLAIM_VALUES), max_size=6).map(
    lambda members: "{" + ",".join(f'"{name}":{value}' for name, value in members) + "}"
)
SIGNATURES = st.sampled_from(["c2ln", "c2lnbg", "c2lnbh", "c2ln=", "c2l+", "AQAB" * 86])
SPELLED = st.builds(
    lambda header, payload, signature: ".".join(
        (b64url_encode(header.encode()), b64url_encode(payload.encode()), signature)
    ),
    HEADERS,
    PAYLOADS | TEXTS,
    SIGNATURES,
)


@fuzz_settings(400)
@given(SPELLED | TOKENS)
def _parse(token: str) -> None:
    expected = reference.parse_jwt(token)
    assert parse_jwt(token) == expected
    assert parse_jwt(token, HeaderMemo()) == expected


def test_parse_jwt_as_the_plain_parser() -> None:
    run(_parse)


@pytest.mark.parametrize(
    "claims",
    [
        {"iat": True},
        {"nbf": 1.9, "exp": -1},
        {"exp": 2**64},
        {"exp": 2**53},
        {"iat": "1", "exp": 0},
        {"exp": 0},
        {"iat": 2**53 - 1, "nbf": 0, "exp": 1},
        {"jti": 1, "aud": 1},
        {"aud": None},
        {"aud": ["a", 1]},
    ],
)
def test_time_and_claim_checks_as_the_plain_parser(claims: dict[str, object]) -> None:
    payload = b64url_encode(json.dumps(claims).encode())
    token = f"{RS256_HEADER}.{payload}.c2ln"
    assert parse_jwt(token) == reference.parse_jwt(token)
