"""The one-provider, one-token lane (`Authenticator._run_single`) answers exactly as the requirement walk.

Every request is authenticated twice: by an Authenticator taking the lane and by one forced through the
general walk (authn/run.py `Run.evaluate` + `verify_rest`), both with empty caches. Results must be equal
field by field (status, identity, header edits, refresh, trace) and so must the cache window. Rules cover every
location kind and output option; tokens cover every status the lane can meet.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest
from tests.authn.test_authn import ISS1, ISS2, JWK1, KEYS, NOW, PEM1, PEM2, URI1, URI3

from meshgate.authn.authenticator import Authenticator
from meshgate.authn.result import AuthnResult
from meshgate.config.model import ClaimToHeader, JwtHeader, JwtRule
from meshgate.engine.attributes import RequestAttributes
from meshgate.jose.jwks import parse_jwks
from meshgate.jose.mint import sign_token

RULES = {
    "defaults-remote": JwtRule(issuer=ISS1, jwks_uri=URI1),
    "inline-outputs": JwtRule(
        issuer=ISS1,
        jwks=json.dumps({"keys": [JWK1]}),
        audiences=("svc",),
        output_payload_to_header="x-jwt-payload",
        output_claim_to_headers=(ClaimToHeader("x-sub", "sub"), ClaimToHeader("x-groups", "groups")),
        space_delimited_claims=("groups",),
    ),
    "custom-header-forward": JwtRule(
        issuer=ISS1, jwks_uri=URI1, from_headers=(JwtHeader("x-token", "Tok "),), forward_original_token=True
    ),
    "claim-to-token-header": JwtRule(
        issuer=ISS1, jwks_uri=URI1, output_claim_to_headers=(ClaimToHeader("authorization", "sub"),)
    ),
    "param-and-cookie": JwtRule(issuer=ISS1, jwks_uri=URI1, from_params=("tk",), from_cookies=("session",)),
    "wrong-key": JwtRule(issuer=ISS1, jwks_uri=URI3),
    "no-issuer": JwtRule(jwks_uri=URI1),
}


def _token(**claims: Any) -> str:
    base: dict[str, Any] = {"iss": ISS1, "sub": "alice", "exp": NOW + 3600, "aud": "svc", "groups": "a b"}
    return sign_token(PEM1, {**base, **claims})


TOKENS = {
    "valid": _token(),
    "valid-nbf": _token(nbf=NOW - 10, exp=NOW + 30),
    "expired": _token(exp=NOW - 3600),
    "not-yet": _token(nbf=NOW + 3600),
    "other-issuer": _token(iss=ISS2),
    "other-audience": _token(aud="elsewhere"),
    "other-key": sign_token(PEM2, {"iss": ISS1, "sub": "alice", "exp": NOW + 60, "aud": "svc"}),
    "unknown-kid": sign_token(PEM1, {"iss": ISS1, "exp": NOW + 60}, kid="unknown-kid"),
    "bad-format": "not.a-token",
    "bad-json": "eyJhbGciOiJSUzI1NiJ9.e30x.c2ln",
}


def _placements(tok: str) -> list[tuple[str, dict[str, tuple[str, ...]], str]]:
    return [
        ("bearer", {"authorization": (f"Bearer {tok}",)}, "/api"),
        ("custom-header", {"x-token": (f"Tok {tok}",)}, "/api"),
        ("default-param", {}, f"/api?access_token={tok}"),
        ("custom-param", {}, f"/api?a=1&tk={tok}"),
        ("cookie", {"cookie": (f"a=1; session={tok}",)}, "/api"),
        ("spoofed-output", {"authorization": (f"Bearer {tok}",), "x-sub": ("mallory",)}, "/api"),
    ]


def _authenticate(
    rule: JwtRule, lane: bool, attrs: RequestAttributes
) -> tuple[AuthnResult, tuple[float, float]]:
    auth = Authenticator([rule])
    auth._one_provider = lane
    result = auth.authenticate(attrs, attrs.path, KEYS, NOW)
    windows = [(entry[1], entry[2]) for entry in auth.result_memo._entries.values()]
    return result, windows[0] if windows else (math.nan, math.nan)


CASES = [
    (rule_name, token_name, placement)
    for rule_name, token_name in itertools.product(RULES, TOKENS)
    for placement, _, _ in _placements("x")
]


@pytest.mark.parametrize(("rule_name", "token_name", "placement"), CASES)
def test_lane_equals_the_requirement_walk(rule_name: str, token_name: str, placement: str) -> None:
    rule = RULES[rule_name]
    headers, path = next((h, p) for name, h, p in _placements(TOKENS[token_name]) if name == placement)
    attrs = RequestAttributes(method="GET", path=path, authority="h", headers=headers)
    lane, lane_window = _authenticate(rule, True, attrs)
    walk, walk_window = _authenticate(rule, False, attrs)
    assert lane == walk
    assert lane_window == walk_window or (math.isnan(lane_window[0]) and math.isnan(walk_window[0]))


def test_lane_is_taken_only_for_one_token() -> None:
    rule = RULES["param-and-cookie"]
    tok = TOKENS["valid"]
    taken: list[int] = []

    class Counting(Authenticator):
        def _run_single(self, *args: Any) -> Any:
            taken.append(1)
            return super()._run_single(*args)

    two_tokens = RequestAttributes(method="GET", path=f"/?tk={tok}", headers={"cookie": (f"session={tok}",)})
    one_token = RequestAttributes(method="GET", path=f"/?tk={tok}", headers={})
    auth = Counting([rule])
    assert auth.authenticate(two_tokens, two_tokens.path, KEYS, NOW).ok
    assert taken == []
    assert auth.authenticate(one_token, one_token.path, KEYS, NOW).ok
    assert taken == [1]


def test_lane_token_is_cached_like_the_walk() -> None:
    auth = Authenticator([RULES["defaults-remote"]])
    attrs = RequestAttributes(
        method="GET", path="/", headers={"authorization": (f"Bearer {TOKENS['valid']}",)}
    )
    first = auth.authenticate(attrs, "/", KEYS, NOW)
    assert auth.authenticate(attrs, "/?x=1", KEYS, NOW) is first  # the same tokens: the result memo
    # The same token at another location: another result (its parameter is removed), the same verification.
    again = RequestAttributes(method="GET", path=f"/?access_token={TOKENS['valid']}", headers={})
    moved = auth.authenticate(again, again.path, KEYS, NOW)
    assert moved.ok and moved.identity == first.identity and moved.remove_params == ("access_token",)
    assert auth.verified_tokens.hits == 1  # the verified token came from the token cache
    assert auth.authenticate(attrs, "/", {URI1: parse_jwks(json.dumps({"keys": [JWK1]}))}, NOW).ok
