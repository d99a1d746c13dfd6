"""More than one token in a request: every token must verify (docs/security.md "More than one token").

Envoy (verifier.cc / authenticator.cc / extractor.cc) reads the first token per location, and once one
provider of the `requires_any` succeeds it reads no other; Istio's jwt_test.go "invalid-token-set" pins
only the one-provider case. Rows whose id starts `envoy-ok` are answered 200 by Envoy.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.authn import Authenticator
from meshgate.engine.extract import Location, extract_every, header_tokens
from meshgate.engine.jwks import parse_jwks
from meshgate.engine.keyset import KeySnapshot
from meshgate.engine.status import JwtStatus as S
from meshgate.resources.model import JwtHeader, JwtRule
from meshgate.tokens import generate_key, sign_token

NOW = 1_700_000_000
ISS1, ISS2 = "https://issuer-1", "https://issuer-2"
URI1, URI2 = "https://keys/1", "https://keys/2"
PEM1, JWK1 = generate_key("RS256")
PEM2, JWK2 = generate_key("ES256")
KEYS: KeySnapshot = {
    URI1: parse_jwks(json.dumps({"keys": [JWK1]})),
    URI2: parse_jwks(json.dumps({"keys": [JWK2]})),
}


def tok(iss: str = ISS1, sub: str = "alice", **claims: Any) -> str:
    return sign_token(PEM1 if iss == ISS1 else PEM2, {"iss": iss, "sub": sub, "exp": NOW + 3600, **claims})


GOOD, GOOD_B, OTHER = tok(), tok(ISS2), tok(sub="bob")
EXPIRED = tok(exp=NOW - 3600)
FORGED = GOOD[:-4] + ("AAAA" if not GOOD.endswith("AAAA") else "BBBB")

RULE_A = JwtRule(issuer=ISS1, jwks_uri=URI1, output_payload_to_header="x-jwt-payload")
RULE_B = JwtRule(issuer=ISS2, jwks_uri=URI2, from_headers=(JwtHeader("x-b"),), from_cookies=("session",))
TWO = Authenticator([RULE_A, RULE_B])
FORWARD = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1, forward_original_token=True)])


def attrs(path: str = "/", **headers: str | tuple[str, ...]) -> RequestAttributes:
    hs = {k.replace("_", "-"): (v,) if isinstance(v, str) else v for k, v in headers.items()}
    return RequestAttributes("GET", path, headers=hs)


def q(*params: str) -> str:
    return "/?" + "&".join(f"access_token={p}" for p in params)


def bearer(*tokens: str) -> tuple[str, ...]:
    return tuple(f"Bearer {t}" for t in tokens)


@pytest.mark.parametrize(
    ("auth", "request_", "status"),
    [
        # one provider: Envoy already verifies all its locations
        pytest.param(TWO, attrs(q(FORGED), authorization=bearer(GOOD)), S.JWT_VERIFICATION_FAIL, id="header+param-bad"),
        pytest.param(TWO, attrs(q(EXPIRED), authorization=bearer(GOOD)), S.JWT_EXPIRED, id="header+param-expired"),
        pytest.param(TWO, attrs(q(OTHER), authorization=bearer(GOOD)), S.OK, id="header+param-both-good"),
        # repeated within one location
        pytest.param(TWO, attrs(q(GOOD, "garbage")), S.JWT_BAD_FORMAT, id="envoy-ok-param-repeated"),
        pytest.param(TWO, attrs(q(GOOD, OTHER)), S.OK, id="param-repeated-both-good"),
        pytest.param(TWO, attrs(cookie=f"session={GOOD_B}; session={FORGED}"), S.JWT_UNKNOWN_ISSUER,
                     id="envoy-ok-cookie-repeated"),
        pytest.param(TWO, attrs(cookie=(f"session={GOOD_B}", "session=x.y.z")),
                     S.JWT_HEADER_PARSE_ERROR_BAD_BASE64, id="envoy-ok-cookie-lines"),
        pytest.param(FORWARD, attrs(authorization=bearer(GOOD, "garbage")), S.JWT_BAD_FORMAT,
                     id="envoy-ok-two-authorization-lines"),
        pytest.param(FORWARD, attrs(authorization=f"Bearer {GOOD}, Bearer {FORGED}"), S.JWT_VERIFICATION_FAIL,
                     id="envoy-ok-two-bearers-one-line"),
        pytest.param(FORWARD, attrs(authorization=bearer(GOOD, OTHER)), S.OK, id="two-authorization-lines-good"),
        # removed headers are not forwarded, so Envoy's answer stands (forwardOriginalToken: false)
        pytest.param(TWO, attrs(authorization=bearer(GOOD, "garbage")), S.OK, id="removed-header-extra-token"),
        # across providers: Envoy's requires_any stops at the first success
        pytest.param(TWO, attrs(authorization=bearer(GOOD), x_b="garbage"), S.JWT_BAD_FORMAT,
                     id="envoy-ok-other-provider-header"),
        pytest.param(TWO, attrs(authorization=bearer(GOOD), cookie="session=garbage"), S.JWT_BAD_FORMAT,
                     id="envoy-ok-other-provider-cookie"),
        pytest.param(TWO, attrs(authorization=bearer(GOOD), x_b=GOOD), S.JWT_UNKNOWN_ISSUER,
                     id="envoy-ok-wrong-issuer-for-location"),
        pytest.param(TWO, attrs(authorization=bearer(GOOD), x_b=GOOD_B), S.OK, id="both-providers-good"),
        pytest.param(TWO, attrs(authorization=bearer(FORGED), x_b=GOOD_B), S.JWT_VERIFICATION_FAIL,
                     id="envoy-ok-first-fails-second-ok"),
        # unchanged
        pytest.param(TWO, attrs(), S.OK, id="no-token"),
        pytest.param(TWO, attrs(authorization="Bearer garbage"), S.JWT_BAD_FORMAT, id="one-bad-token"),
    ],
)  # fmt: skip
def test_every_token_must_verify(auth: Authenticator, request_: RequestAttributes, status: S) -> None:
    auth.result_cache.clear()
    auth.token_cache.clear()
    assert auth.authenticate(request_, request_.path, KEYS, NOW).status is status


def test_identity_stays_envoys_pick() -> None:
    request_ = attrs(q(OTHER), authorization=bearer(GOOD))
    result = TWO.authenticate(request_, request_.path, KEYS, NOW)
    # authenticator.cc pops the param (bob) first, the header (alice) last: the last verified wins
    assert result.ok and result.identity is not None and result.identity.claims["sub"] == "alice"
    assert [h for h, _ in result.set_headers] == ["x-jwt-payload", "x-jwt-payload"]


@pytest.mark.parametrize(
    ("value", "prefix", "tokens"),
    [
        ("Bearer a.b.c", "Bearer ", ["a.b.c"]),
        ("Bearer a.b.c, Bearer d.e.f", "Bearer ", ["a.b.c", "d.e.f"]),
        ("Bearer a.b.c,Bearer d.e.f,Bearer ", "Bearer ", ["a.b.c", "d.e.f"]),
        ("Bearer !!!", "Bearer ", ["Bearer !!!"]),  # extractor.cc: no run → the whole value
        ("Basic x", "Bearer ", []),
        ("a.b.c,d.e.f", "", ["a.b.c,d.e.f"]),
    ],
)
def test_header_tokens(value: str, prefix: str, tokens: list[str]) -> None:
    assert header_tokens(value, prefix) == tokens


def test_extract_every_keeps_order_and_repeats() -> None:
    locs = (Location("header", "authorization", "Bearer "), Location("param", "t"), Location("cookie", "c"))
    headers = {"authorization": ("Bearer x", "Bearer y"), "cookie": ("c=1; d=2", "c=3")}
    assert extract_every(locs, headers, "/p?t=a&u=b&t=%41") == (("x", "y"), ("a", "A"), ("1", "3"))
