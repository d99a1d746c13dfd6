"""More than one token in a request: every token must verify (docs/security.md "More than one token").

Envoy 1.40 (verifier.cc / authenticator.cc / extractor.cc) reads every entry of a token header (repeated
lines of an inline header such as Authorization arrive joined with ',' as one entry, and the token runs to
its end), the first value of a parameter or cookie, and once one provider of the `requires_any` succeeds
it reads no other; Istio's jwt_test.go "invalid-token-set" pins only the one-provider case. Rows whose id
starts `envoy-ok` are answered 200 by Envoy, `envoy-too` are refused by Envoy with the same answer (both
asked of Envoy 1.40 in tests/parity/test_repeated_tokens.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshgate.authn.authenticator import Authenticator
from meshgate.config.model import JwtHeader, JwtRule
from meshgate.engine.attributes import RequestAttributes
from meshgate.jose.jwks import parse_jwks
from meshgate.jose.keys import KeySnapshot
from meshgate.jose.mint import generate_key, sign_token
from meshgate.jose.status import JwtStatus as S

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
FORGED_B = GOOD_B[:-4] + ("AAAA" if not GOOD_B.endswith("AAAA") else "BBBB")

RULE_A = JwtRule(issuer=ISS1, jwks_uri=URI1, output_payload_to_header="x-jwt-payload")
RULE_B = JwtRule(issuer=ISS2, jwks_uri=URI2, from_headers=(JwtHeader("x-b"),), from_cookies=("session",))
TWO = Authenticator([RULE_A, RULE_B])
FORWARD = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1, forward_original_token=True)])
# two locations on one header: `Bearer ` (issuer 1) and `Tok ` (issuer 2)
SHARED = Authenticator(
    [RULE_A, JwtRule(issuer=ISS2, jwks_uri=URI2, from_headers=(JwtHeader("authorization", "Tok "),))]
)


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
        # Authorization is an inline header: its lines reach the extractor joined, one token to the end
        pytest.param(FORWARD, attrs(authorization=bearer(GOOD, "garbage")), S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64,
                     id="envoy-too-two-authorization-lines"),
        pytest.param(FORWARD, attrs(authorization=f"Bearer {GOOD}, Bearer {FORGED}"), S.JWT_BAD_FORMAT,
                     id="envoy-too-two-bearers-one-line"),
        pytest.param(FORWARD, attrs(authorization=bearer(GOOD, OTHER)), S.JWT_BAD_FORMAT,
                     id="envoy-too-two-authorization-lines-good"),
        pytest.param(TWO, attrs(authorization=bearer(GOOD, FORGED)), S.JWT_BAD_FORMAT,
                     id="envoy-too-valid-then-forged-line"),
        pytest.param(TWO, attrs(authorization=f"Bearer {GOOD} junk"), S.JWT_VERIFICATION_FAIL,
                     id="envoy-too-trailing-junk-absl-skips-space"),
        # any other header: one token per line, all verified by the provider reading it
        pytest.param(TWO, attrs(x_b=(GOOD_B, FORGED_B)), S.JWT_VERIFICATION_FAIL, id="envoy-too-x-b-lines"),
        pytest.param(TWO, attrs(x_b=(FORGED_B, GOOD_B)), S.JWT_VERIFICATION_FAIL, id="envoy-too-x-b-lines-2"),
        pytest.param(TWO, attrs(x_b=(GOOD_B, GOOD_B)), S.OK, id="x-b-lines-both-good"),
        # a header removed after Envoy's success still had a second location's token: it must verify too
        pytest.param(SHARED, attrs(authorization=f"Tok garbage, Bearer {GOOD}"), S.JWT_HEADER_PARSE_ERROR_BAD_BASE64,
                     id="envoy-ok-second-location-same-header"),
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
        pytest.param(SHARED, attrs(authorization=f"Bearer {GOOD}"), S.OK, id="shared-header-one-token"),
    ],
)  # fmt: skip
def test_every_token_must_verify(auth: Authenticator, request_: RequestAttributes, status: S) -> None:
    auth.result_memo.clear()
    auth.verified_tokens.clear()
    assert auth.authenticate(request_, request_.path, KEYS, NOW).status is status


def test_identity_stays_envoys_pick() -> None:
    request_ = attrs(q(OTHER), authorization=bearer(GOOD))
    result = TWO.authenticate(request_, request_.path, KEYS, NOW)
    # authenticator.cc pops the param (bob) first, the header (alice) last: the last verified wins
    assert result.ok and result.identity is not None and result.identity.claims["sub"] == "alice"
    assert [h for h, _ in result.set_headers] == ["x-jwt-payload", "x-jwt-payload"]
