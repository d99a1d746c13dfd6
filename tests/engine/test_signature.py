"""Key selection and signatures: envoyproxy/envoy source/common/jwt/verify.cc verifyJwtWithoutTimeChecking."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tests.support.samples import SAMPLES

from meshgate.engine.b64 import b64url_decode, b64url_encode
from meshgate.engine.jwks import parse_jwks
from meshgate.engine.jws import ParsedJwt, parse_jwt
from meshgate.engine.keyset import KeySet
from meshgate.engine.signature import verify
from meshgate.engine.status import JwtStatus as S
from meshgate.tokens import generate_key, load_private_key, sign_token

CLAIMS = {"iss": "i", "sub": "s"}
ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256"]
KEYS = {alg: generate_key(alg) for alg in ALGS}


def keyset(*jwks: dict[str, Any]) -> KeySet:
    ks = parse_jwks(json.dumps({"keys": list(jwks)}))
    assert ks.status is S.OK
    return ks


def parsed(token: str) -> ParsedJwt:
    p = parse_jwt(token)
    assert isinstance(p, ParsedJwt)
    return p


def token_for(alg: str, kid: str | None = None, claims: dict[str, Any] | None = None) -> str:
    secret, jwk = KEYS[alg]
    return sign_token(secret, claims or CLAIMS, alg=alg, kid=jwk["kid"] if kid is None else kid)


def resign(token: str, signature: bytes) -> ParsedJwt:
    h, p, _ = token.split(".")
    return parsed(f"{h}.{p}.{b64url_encode(signature)}")


@pytest.mark.parametrize("alg", ALGS)
def test_each_algorithm_verifies(alg: str) -> None:
    assert verify(parsed(token_for(alg)), keyset(KEYS[alg][1])) is S.OK


@pytest.mark.parametrize("alg", ALGS)
def test_each_algorithm_rejects_tampering(alg: str) -> None:
    token = token_for(alg)
    h, _, s = token.split(".")
    forged = f"{h}.{b64url_encode(json.dumps({'iss': 'i', 'sub': 'admin'}).encode())}.{s}"
    expected = S.JWT_VERIFICATION_FAIL
    assert verify(parsed(forged), keyset(KEYS[alg][1])) is expected


@pytest.mark.parametrize("name", ["demo.jwt", "groups-scope.jwt"])
def test_istio_samples_verify(name: str) -> None:
    ks = parse_jwks((SAMPLES / "jwks.json").read_text())
    assert verify(parsed((SAMPLES / name).read_text().strip()), ks) is S.OK


def _no(jwk: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k not in fields}


RS = KEYS["RS256"][1]
ES = KEYS["ES256"][1]


# verify.cc: kid/alg filter → JwksKidAlgMismatch only when no key survives
@pytest.mark.parametrize(
    ("token", "keys", "status"),
    [
        pytest.param(token_for("RS256", kid="other"), [RS], S.JWKS_KID_ALG_MISMATCH, id="kid-differs"),
        pytest.param(token_for("RS256", kid="other"), [_no(RS, "kid")], S.OK, id="key-without-kid"),
        pytest.param(token_for("RS256", kid=""), [RS], S.OK, id="token-without-kid"),
        pytest.param(token_for("RS256"), [{**RS, "alg": "RS384"}], S.JWKS_KID_ALG_MISMATCH, id="alg-differs"),
        pytest.param(token_for("RS256"), [_no(RS, "alg")], S.OK, id="key-without-alg"),
        pytest.param(
            token_for("RS256"), [{**ES, "kid": RS["kid"]}], S.JWKS_KID_ALG_MISMATCH, id="kid-match-alg-not"
        ),
        pytest.param(token_for("RS256"), [ES, RS], S.OK, id="second-key-matches"),
        pytest.param(
            token_for("ES256", kid=""), [_no(RS, "alg")], S.JWT_VERIFICATION_FAIL, id="rsa-key-es-token"
        ),
        pytest.param(
            token_for("RS256"), [{**_no(ES, "alg"), "kid": RS["kid"]}], S.JWT_VERIFICATION_FAIL, id="ec-key"
        ),
        pytest.param(
            token_for("RS256", kid=""),
            [_no(KEYS["EdDSA"][1], "alg"), _no(RS, "alg")],
            S.JWT_ED25519_SIGNATURE_WRONG_LENGTH,
            id="ed25519-wrong-length-stops-search",
        ),
        pytest.param(
            token_for("RS256", kid=""), [_no(ES, "alg"), _no(RS, "alg")], S.OK, id="later-key-verifies"
        ),
        pytest.param(token_for("HS256", kid=""), [_no(KEYS["HS256"][1], "alg")], S.OK, id="oct-without-alg"),
    ],
)
def test_key_selection(token: str, keys: list[dict[str, Any]], status: S) -> None:
    assert verify(parsed(token), keyset(*keys)) is status


def test_empty_keyset_is_mismatch() -> None:
    assert verify(parsed(token_for("RS256")), KeySet(())) is S.JWKS_KID_ALG_MISMATCH


def test_ed25519_signature_length() -> None:
    token = token_for("EdDSA")
    sig = b64url_decode(token.split(".")[2]) or b""
    ks = keyset(KEYS["EdDSA"][1])
    assert verify(resign(token, sig[:63]), ks) is S.JWT_ED25519_SIGNATURE_WRONG_LENGTH
    assert verify(resign(token, sig + b"\x00"), ks) is S.JWT_ED25519_SIGNATURE_WRONG_LENGTH
    assert verify(resign(token, bytes(64)), ks) is S.JWT_VERIFICATION_FAIL


def test_ecdsa_raw_signature_split_in_half() -> None:
    # verify.cc: BN_bin2bn on each half, no length check — zero-padded halves still verify
    token = token_for("ES256")
    sig = b64url_decode(token.split(".")[2]) or b""
    ks = keyset(ES)
    padded = b"\x00" + sig[:32] + b"\x00" + sig[32:]
    assert verify(resign(token, padded), ks) is S.OK
    assert verify(resign(token, sig[:63]), ks) is S.JWT_VERIFICATION_FAIL
    assert verify(resign(token, b"\x01"), ks) is S.JWT_VERIFICATION_FAIL  # r = s = 0


@pytest.mark.parametrize("salt", [0, 20, 32, 64])
def test_pss_salt_length_is_recovered(salt: int) -> None:
    # BoringSSL pkey_rsa_init: saltlen -2 (recover from the signature) for verification
    pem, jwk = KEYS["PS256"]
    key = load_private_key(pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    token = token_for("PS256")
    h, p, _ = token.split(".")
    sig = key.sign(f"{h}.{p}".encode(), padding.PSS(padding.MGF1(hashes.SHA256()), salt), hashes.SHA256())
    assert verify(resign(token, sig), keyset(jwk)) is S.OK


def test_hmac_wrong_length_and_wrong_secret() -> None:
    token = token_for("HS256")
    sig = b64url_decode(token.split(".")[2]) or b""
    ks = keyset(KEYS["HS256"][1])
    assert verify(resign(token, sig[:-1]), ks) is S.JWT_VERIFICATION_FAIL
    other = {**KEYS["HS256"][1], "k": b64url_encode(b"other secret")}
    assert verify(parsed(token), keyset(other)) is S.JWT_VERIFICATION_FAIL
