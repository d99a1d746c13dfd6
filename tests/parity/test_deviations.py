"""Places where meshgate knowingly answers differently from Envoy 1.40, each asked of Envoy.

docs/security.md "Where meshgate answers differently" lists them with the reason; every test here is named
after the Envoy behaviour it records and asserts both sides, so a change in either shows. Rows pinned in
their own modules: the query re-serialization (test_query_token.py `envoy-*` rows), `exp` truncating to 0
(test_numeric_dates.py), repeated parameters and cookies (test_repeated_tokens.py `test_explicit_locations`), the
spellings absl accepts (test_spelling.py rows with a meshgate answer).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.extauthz.conftest import LoopThread
from tests.parity.configs import DEMO_JWT, SAMPLE_JWKS, SEED
from tests.support.envoy_jwt import EnvoyProcess
from tests.support.istio_xds import jwt_authn_filter
from tests.support.jwks_server import JwksServer
from tests.support.parity import ParityRig
from tests.support.recording_upstream import RecordingUpstream

from meshgate.config.load import load_text
from meshgate.config.model import JwtRule
from meshgate.jose.mint import generate_key, sign_token

ED_PEM, ED_JWK = generate_key("EdDSA")
RS_PEM, RS_JWK = generate_key("RS256")
ISSUER = "keys@example.com"
CLAIMS = {"iss": ISSUER, "sub": "s", "exp": 4685989700}


def bare(jwk: dict[str, object]) -> dict[str, object]:
    """The key without `kid` and `alg`, as many JWKS publish it: every token's search reaches it."""
    return {k: v for k, v in jwk.items() if k not in ("kid", "alg")}


def keys_config(*keys: dict[str, object]) -> str:
    jwks = json.dumps({"keys": list(keys)})
    return (
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
        "metadata: {name: jwt, namespace: default}\nspec:\n  jwtRules:\n"
        f"  - issuer: {ISSUER}\n    jwks: {json.dumps(jwks)}\n"
    )


HEADER_DENY = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-blocked, namespace: default}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[x-block]", values: ["yes"]}]
"""


@pytest.fixture(scope="module")
def rig() -> Iterator[ParityRig]:
    rig = ParityRig(
        {
            "ed25519-first": keys_config(bare(ED_JWK), bare(RS_JWK)),
            "rsa-first": keys_config(bare(RS_JWK), bare(ED_JWK)),
            "header-deny": HEADER_DENY,
        }
    ).start()
    yield rig
    rig.stop()


@pytest.mark.parametrize("kid", ["", None], ids=["no-kid", "kid-keys-have-none"])
def test_envoy_stops_at_the_first_ed25519_key_meshgate_tries_every_key(
    rig: ParityRig, kid: str | None
) -> None:
    """verify.cc: for a key without `alg`, an Ed25519 key ends the search for any token whose signature is
    not 64 bytes — `Jwt ED25519 signature is wrong length` — so Envoy 1.40 refuses a valid RS256 token whose
    key comes later. meshgate uses a key only with its own algorithm family and goes on: 200 (correct beats
    identical: the token is valid, and no key is used outside its family)."""
    token = sign_token(RS_PEM, CLAIMS, kid=kid)
    seen_envoy, seen_meshgate = rig.ask("ed25519-first", "GET", "/", [("authorization", f"Bearer {token}")])
    assert (seen_envoy.status, seen_envoy.body) == (401, "Jwt ED25519 signature is wrong length")
    assert (seen_meshgate.status, seen_meshgate.target) == (200, "/")
    # the same keys the other way round: both verify
    seen_envoy, seen_meshgate = rig.ask("rsa-first", "GET", "/", [("authorization", f"Bearer {token}")])
    assert seen_envoy.status == seen_meshgate.status == 200


def test_ed25519_token_verifies_on_both(rig: ParityRig) -> None:
    token = sign_token(ED_PEM, CLAIMS, kid="")
    for config in ("ed25519-first", "rsa-first"):
        seen_envoy, seen_meshgate = rig.ask(config, "GET", "/", [("authorization", f"Bearer {token}")])
        assert seen_envoy.status == seen_meshgate.status == 200


@pytest.mark.parametrize("value", ["yes", "yes ", " yes", "yes\t", "\tyes "])
def test_header_values_are_read_without_surrounding_whitespace(rig: ParityRig, value: str) -> None:
    """Envoy's HTTP/1 codec trims a field value, so `x-block: yes ` meets a DENY on `yes` (403). meshgate's
    gateway passed the raw value and let it through (200) — aligned now (authz/conditions.py)."""
    seen_envoy, seen_meshgate = rig.ask("header-deny", "GET", "/", [("x-block", value)])
    assert seen_envoy.client_view() == seen_meshgate.client_view() == (403, "RBAC: access denied", None)


@pytest.fixture(scope="module")
def redirecting_jwks() -> Iterator[tuple[ParityRig, str]]:
    """Istio's sample JWKS served behind a same-origin 302, and a rig whose rule fetches it (`jwksUri`)."""
    loop = LoopThread()
    server = JwksServer()
    server.redirect_to = "/moved.json"
    loop.run(server.start())
    config = SEED.replace(f"    jwks: {json.dumps(SAMPLE_JWKS)}\n", f"    jwksUri: {server.url()}\n")
    assert config != SEED
    rig = ParityRig({"redirect": config}, jwks_ports={server.url(): server.port}).start()
    yield rig, server.url()
    rig.stop()
    loop.run(server.stop())
    loop.close()


def test_envoy_does_not_follow_a_jwks_redirect_meshgate_follows_same_origin(
    redirecting_jwks: tuple[ParityRig, str],
) -> None:
    """Envoy's JWKS fetcher follows no redirect: a 302 is a failed fetch, 401 `Jwks remote fetch is failed`.
    meshgate follows same-origin redirects (at most 5; docs/security.md "JWKS fetching") and verifies: 200."""
    rig, _ = redirecting_jwks
    seen_envoy, seen_meshgate = rig.ask("redirect", "GET", "/", [("authorization", f"Bearer {DEMO_JWT}")])
    assert (seen_envoy.status, seen_envoy.body) == (401, "Jwks remote fetch is failed")
    assert (seen_meshgate.status, seen_meshgate.target) == (200, "/")


def test_duplicate_names_in_a_jwks_are_invalid_json() -> None:
    """protobuf's JSON parser refuses duplicate names: Envoy 1.40 rejects such an inline JWKS outright
    (`Jwks is an invalid JSON`); meshgate's JWKS parser refuses the document too (jose/b64.py), so its
    loader reports the rule as invalid instead of reading the last `keys`."""
    text = '{"keys": [], "keys": [' + json.dumps(RS_JWK) + "]}"
    config = keys_config().replace(json.dumps(json.dumps({"keys": []})), json.dumps(text))
    loaded = load_text(config, "<dup>")
    assert [p.message for p in loaded.problems] == ["jwks parse error: Jwks is an invalid JSON"]
    upstream = RecordingUpstream().start()
    try:
        with pytest.raises(RuntimeError, match="invalid local jwks: Jwks is an invalid JSON"):
            EnvoyProcess.start(
                {"dup": [jwt_authn_filter([JwtRule(issuer=ISSUER, jwks=text)])]}, upstream.port
            )
    finally:
        upstream.stop()
