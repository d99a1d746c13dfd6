"""Request authentication under Istio's jwt_authn config (docs/istio-semantics.md §3).

Sources: envoyproxy/envoy jwt_authn verifier.cc / authenticator.cc / filter.cc / extractor.cc,
istio/istio pilot/pkg/security/authn/policy_applier.go, tests/integration/security/jwt_test.go.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from tests.support.samples import SAMPLES

from meshgate.authn.authenticator import Authenticator
from meshgate.authn.result import AuthnResult
from meshgate.config.model import ClaimToHeader, JwtHeader, JwtRule
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
PEM_ED, JWK_ED = generate_key("EdDSA")
OTHER_RSA = {**generate_key("RS256")[1], "kid": JWK1["kid"]}  # passes the kid/alg filter, wrong key
URI3 = "https://keys/3"
JWKS1 = json.dumps({"keys": [JWK1]})
JWKS2 = json.dumps({"keys": [JWK2]})
KEYS: KeySnapshot = {
    URI1: parse_jwks(JWKS1),
    URI2: parse_jwks(JWKS2),
    URI3: parse_jwks(json.dumps({"keys": [OTHER_RSA]})),
}


def token(iss: str = ISS1, pem: bytes = PEM1, **claims: Any) -> str:
    return sign_token(pem, {"iss": iss, "sub": "alice", "exp": NOW + 3600, **claims})


def req(
    tok: str | None = None, path: str = "/api", method: str = "GET", **headers: str | tuple[str, ...]
) -> RequestAttributes:
    hs: dict[str, tuple[str, ...]] = {
        k.replace("_", "-"): (v,) if isinstance(v, str) else v for k, v in headers.items()
    }
    if tok is not None:
        hs["authorization"] = (f"Bearer {tok}",)
    return RequestAttributes(method=method, path=path, headers=hs)


def run(
    auth: Authenticator, attrs: RequestAttributes, now: float = NOW, keys: KeySnapshot = KEYS
) -> AuthnResult:
    return auth.authenticate(attrs, attrs.path, keys, now)


ONE = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1, output_payload_to_header="x-jwt-payload")])


def test_no_rules() -> None:
    result = run(Authenticator([]), req(token()))
    assert result.ok and result.identity is None and result.trace.outcome == "no rules"
    assert result.remove_headers == () and result.set_headers == ()


def test_no_token_passes_and_strips_spoofed_output_headers() -> None:
    result = run(ONE, req(x_jwt_payload="spoofed"))
    assert result.ok and result.identity is None and result.trace.outcome == "no token"
    assert result.remove_headers == ("x-jwt-payload",) and result.set_headers == ()


def test_verified_token() -> None:
    tok = token()
    result = run(ONE, req(tok))
    assert result.ok and result.identity is not None
    assert result.identity.principal == f"{ISS1}/alice"
    assert result.remove_headers == ("x-jwt-payload", "authorization")
    assert result.set_headers == (("x-jwt-payload", tok.split(".")[1]),)  # payload segment as received
    assert result.trace.outcome == "verified" and result.trace.provider == f"origins-0 (issuer {ISS1})"
    assert result.trace.principal == f"{ISS1}/alice" and result.refresh == ()


def test_forward_original_token_keeps_header() -> None:
    auth = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1, forward_original_token=True)])
    result = run(auth, req(token()))
    assert result.ok and "authorization" not in result.remove_headers


def test_istio_sample_tokens_with_inline_jwks() -> None:
    auth = Authenticator(
        [JwtRule(issuer="testing@secure.istio.io", jwks=(SAMPLES / "jwks.json").read_text())]
    )
    for name in ("demo.jwt", "groups-scope.jwt"):
        result = run(auth, req((SAMPLES / name).read_text().strip()))
        assert result.ok and result.identity is not None
        assert result.identity.principal == "testing@secure.istio.io/testing@secure.istio.io"
    assert run(auth, req("invalidToken")).status is S.JWT_BAD_FORMAT  # istio.io authz-jwt task


def _header(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


KID_MISS = sign_token(PEM1, {"iss": ISS1, "exp": NOW + 10}, kid="unknown-kid")
ED_SHORT = token(pem=PEM_ED)[:-4]


# One row per status a client can see; authenticator.cc check order.
@pytest.mark.parametrize(
    ("rule", "tok", "now", "status", "refresh"),
    [
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI1), "invalidToken", NOW, S.JWT_BAD_FORMAT, (), id="bad-format"
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI1), token(ISS2), NOW, S.JWT_UNKNOWN_ISSUER, (), id="issuer"
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI1), token(nbf=NOW + 61), NOW, S.JWT_NOT_YET_VALID, (), id="nbf"
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI1), token(nbf=NOW + 60), NOW, S.OK, (), id="nbf-skew-edge"
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI1), token(exp=NOW - 61), NOW, S.JWT_EXPIRED, (), id="exp"
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI1), token(exp=NOW - 60), NOW, S.OK, (), id="exp-skew-edge"
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI1),
            token(exp=NOW - 60),
            NOW + 0.99,
            S.OK,
            (),
            id="exp-sub-second",
        ),
        pytest.param(
            JwtRule(issuer=ISS1, audiences=("a",), jwks_uri=URI1),
            token(aud="b"),
            NOW,
            S.JWT_AUDIENCE_NOT_ALLOWED,
            (),
            id="aud-403",
        ),
        pytest.param(
            JwtRule(issuer=ISS1, audiences=("a",), jwks_uri=URI1),
            token(),
            NOW,
            S.JWT_AUDIENCE_NOT_ALLOWED,
            (),
            id="aud-missing",
        ),
        pytest.param(
            JwtRule(issuer=ISS1, audiences=("https://svc/",), jwks_uri=URI1),
            token(aud=["x", "http://svc"]),
            NOW,
            S.OK,
            (),
            id="aud-sanitized",
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri="https://none"),
            token(),
            NOW,
            S.JWKS_FETCH_FAIL,
            ("https://none",),
            id="fetch-fail",
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks='{"keys":[]}'), token(), NOW, S.JWKS_NO_VALID_KEYS, (), id="inline-bad"
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI1),
            KID_MISS,
            NOW,
            S.JWKS_KID_ALG_MISMATCH,
            (URI1,),
            id="kid-miss",
        ),
        pytest.param(
            JwtRule(issuer=ISS1, jwks_uri=URI3), token(), NOW, S.JWT_VERIFICATION_FAIL, (), id="wrong-key"
        ),
        pytest.param(
            JwtRule(
                issuer=ISS1, jwks=json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": JWK_ED["x"]}]})
            ),
            token(),
            NOW,
            S.JWT_VERIFICATION_FAIL,
            (),
            id="ed25519-key-not-for-rs256-envoy-says-wrong-length",
        ),
        # order: time before audience before keys
        pytest.param(
            JwtRule(issuer=ISS1, audiences=("a",), jwks_uri="https://none"),
            token(exp=NOW - 100),
            NOW,
            S.JWT_EXPIRED,
            (),
            id="expired-beats-aud-and-keys",
        ),
        pytest.param(
            JwtRule(issuer="", jwks_uri=URI1), token("anyone"), NOW, S.OK, (), id="empty-issuer-any"
        ),
    ],
)
def test_status(rule: JwtRule, tok: str, now: float, status: S, refresh: tuple[str, ...]) -> None:
    result = run(Authenticator([rule]), req(tok), now)
    assert result.status is status
    assert result.refresh == refresh
    assert result.trace.outcome == ("verified" if status is S.OK else "failed")
    assert result.trace.status == status.value


def test_audience_status_is_403() -> None:
    assert S.JWT_AUDIENCE_NOT_ALLOWED.http_status == 403 and S.JWT_EXPIRED.http_status == 401


@pytest.mark.parametrize(
    ("headers", "path", "outcome"),
    [
        pytest.param({"authorization": "bearer x.y.z"}, "/api", "no token", id="lowercase-bearer-ignored"),
        pytest.param({"x-token": "x.y.z"}, "/api", "no token", id="unconfigured-header-ignored"),
        pytest.param({"authorization": "Basic abc"}, "/api", "no token", id="other-scheme-ignored"),
    ],
)
def test_token_in_unread_location(headers: dict[str, str], path: str, outcome: str) -> None:
    result = run(ONE, req(path=path, **headers))
    assert result.ok and result.trace.outcome == outcome and "authorization" not in result.remove_headers


def test_query_param_token_default_location() -> None:
    result = run(ONE, req(path=f"/api?access_token={token()}"))
    assert result.ok and result.identity is not None
    assert "authorization" not in result.remove_headers  # params are never removed (extractor.cc TODO)
    assert result.trace.token_location == "query parameter access_token"


def test_all_tokens_of_a_provider_must_verify() -> None:
    # istio tests/integration/security/jwt_test.go "invalid-token-set"
    auth = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1, from_params=("token", "secondary_token"))])
    good, expired = token(), token(exp=NOW - 3600)
    assert run(auth, req(path=f"/p?token={good}&secondary_token={expired}")).status is S.JWT_EXPIRED
    assert run(auth, req(path=f"/p?token={good}&secondary_token={good}")).ok


def test_last_location_verified_first() -> None:
    # authenticator.cc pops tokens from the back: the param token fails first
    auth = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1)])
    assert run(auth, req(token(exp=NOW - 3600), path="/p?access_token=bad")).status is S.JWT_BAD_FORMAT


TWO = [JwtRule(issuer=ISS2, jwks_uri=URI2), JwtRule(issuer=ISS1, jwks_uri=URI1)]


@pytest.mark.parametrize(
    ("tok", "status", "provider"),
    [
        pytest.param(token(ISS1), S.OK, "origins-0", id="first-provider"),
        pytest.param(token(ISS2, pem=PEM2), S.OK, "origins-1", id="second-provider"),
        pytest.param(token("https://other"), S.JWT_UNKNOWN_ISSUER, "", id="unknown-issuer"),
        pytest.param(
            token(ISS2, pem=PEM1), S.JWKS_KID_ALG_MISMATCH, "origins-1", id="real-error-beats-unknown"
        ),
        pytest.param(token(ISS1, exp=NOW - 3600), S.JWT_EXPIRED, "origins-0", id="expired"),
    ],
)
def test_multiple_providers(tok: str, status: S, provider: str) -> None:
    result = run(Authenticator(TWO), req(tok))
    assert result.status is status
    assert result.trace.provider.startswith(provider)


def test_providers_sorted_by_issuer() -> None:
    auth = Authenticator(TWO)
    assert [(p.name, p.issuer) for p in auth.providers] == [("origins-0", ISS1), ("origins-1", ISS2)]
    assert auth.jwks_uris() == ((URI1, 5.0), (URI2, 5.0))


def test_first_ok_provider_no_longer_ends_the_check() -> None:
    # verifier.cc any: x-a succeeding makes Envoy forward x-b's bad token unverified; meshgate verifies it
    rules = [
        JwtRule(issuer=ISS1, jwks_uri=URI1, from_headers=(JwtHeader("x-a"),)),
        JwtRule(issuer=ISS2, jwks_uri=URI2, from_headers=(JwtHeader("x-b"),)),
    ]
    assert run(Authenticator(rules), req(x_a=token(), x_b="garbage")).status is S.JWT_BAD_FORMAT
    result = run(Authenticator(rules), req(x_a=token(), x_b=token(ISS2, PEM2)))
    assert result.ok and result.identity is not None and result.identity.issuer == ISS1  # Envoy's pick
    assert "x-a" in result.remove_headers and "x-b" in result.remove_headers


def test_cors_preflight_bypass() -> None:
    # jwt_authn filter.cc + istio "expired-token-cors-preflight-request-allowed"
    expired = token(exp=NOW - 3600)
    preflight = req(expired, method="OPTIONS", origin="http://o", access_control_request_method="GET")
    result = run(ONE, preflight)
    assert result.ok and result.trace.outcome == "bypassed (CORS preflight)"
    assert result.remove_headers == ("x-jwt-payload",)
    assert run(ONE, req(expired, method="OPTIONS", origin="http://o")).status is S.JWT_EXPIRED


CLAIMS_RULE = JwtRule(
    issuer=ISS1,
    jwks_uri=URI1,
    output_claim_to_headers=tuple(
        ClaimToHeader(f"x-{name}", claim)
        for name, claim in [
            ("str", "s"),
            ("empty", "e"),
            ("int", "i"),
            ("float", "f"),
            ("neg", "n"),
            ("big", "big"),
            ("huge", "huge"),
            ("bool", "b"),
            ("list", "l"),
            ("obj", "o"),
            ("nested", "o.k"),
            ("missing", "nope"),
            ("null", "z"),
        ]
    ),
)


def test_claim_header_formats() -> None:
    # authenticator.cc addJWTClaimToHeader / convertClaimDoubleToString (newest)
    extra = {
        "s": "v",
        "e": "",
        "i": 42,
        "f": 1.5,
        "n": -3,
        "big": 1e19,
        "huge": 1e20,
        "b": False,
        "l": ["a", 1],
        "o": {"k": "kv"},
        "z": None,
    }
    result = run(Authenticator([CLAIMS_RULE]), req(token(**extra)))
    got = dict(result.set_headers)
    assert got == {
        "x-str": "v",
        "x-int": "42",
        "x-float": "1.500000",
        "x-neg": "-3.000000",
        "x-big": "10000000000000000000",
        "x-huge": "100000000000000000000.000000",  # ≥ 2^64 → %f
        "x-bool": "false",
        "x-list": base64.b64encode(b'["a",1]').decode(),
        "x-obj": base64.b64encode(b'{"k":"kv"}').decode(),
        "x-nested": "kv",
    }
    assert set(result.remove_headers) >= {f"x-{n}" for n in ("str", "empty", "missing", "null")}


def test_space_delimited_claims_normalized() -> None:
    rule = JwtRule(issuer=ISS1, jwks_uri=URI1, space_delimited_claims=("roles",))
    result = run(Authenticator([rule]), req(token(scope="a  b", permission=" ", roles="x y", other="p q")))
    assert result.identity is not None
    claims = result.identity.claims
    assert (claims["scope"], claims["permission"], claims["roles"], claims["other"]) == (
        ["a", "b"],
        " ",
        ["x", "y"],
        "p q",
    )


def test_repeated_token_hits_cache_and_honours_exp() -> None:
    auth = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1)])
    tok = token(exp=NOW + 100)
    first = run(auth, req(tok))
    assert run(auth, req(tok)) is first and auth.result_memo.hits == 1
    assert run(auth, req(tok), now=NOW + 160).ok  # exp + skew still valid
    assert run(auth, req(tok), now=NOW + 161).status is S.JWT_EXPIRED


def test_cache_keyed_by_key_set() -> None:
    auth = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1)])
    tok = token()
    assert run(auth, req(tok)).ok
    rotated: KeySnapshot = {URI1: KEYS[URI3]}
    assert run(auth, req(tok), keys=rotated).status is S.JWT_VERIFICATION_FAIL
    assert run(auth, req(tok), keys={}).status is S.JWKS_FETCH_FAIL


def test_cache_is_bounded() -> None:
    auth = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1)], cache_size=2)
    for i in range(5):
        assert run(auth, req(token(n=i))).ok
    assert len(auth.result_memo) == 2 and len(auth.verified_tokens) == 2


# Golden strings captured from a real Envoy 1.40 (claim_to_headers of an object / list claim, decoded):
# protobuf's JSON printer escaping and double formatting.
@pytest.mark.parametrize(
    ("value", "envoy_json"),
    [
        pytest.param(
            {"q": 'a"b</>\u2028é'}, '{"q":"a\\"b\\u003c/\\u003e\\u2028é"}', id="html-and-separators-escaped"
        ),
        pytest.param(
            {"q": "\x01\x08\t\n\x0b\x0c\r\x1f\x7f\x85\xa0\u00ad\u200b\ufeff&'=/\U0001f600\U000e0001"},
            '{"q":"\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\\u007f\\u0085\xa0\\u00ad\\u200b\\ufeff&\'=/\U0001f600'
            '\\udb40\\udc01"}',
            id="control-and-format-chars",
        ),
        pytest.param(
            [0.5, 1e-5, 123.456, 2**53 + 1, 1e300, -1.5e-10, 1e15, 1e16, -0.0, 7],
            "[0.5,1e-05,123.456,9007199254740992,1e+300,-1.5e-10,1e+15,1e+16,-0,7]",
            id="numbers-as-doubles",
        ),
        pytest.param(["b", "a", 3, None, True], '["b","a",3,null,true]', id="list"),
    ],
)
def test_structured_claim_header_matches_envoy(value: Any, envoy_json: str) -> None:
    rule = JwtRule(issuer=ISS1, jwks_uri=URI1, output_claim_to_headers=(ClaimToHeader("x-c", "c"),))
    result = run(Authenticator([rule]), req(token(c=value)))
    assert dict(result.set_headers)["x-c"] == base64.b64encode(envoy_json.encode()).decode()
