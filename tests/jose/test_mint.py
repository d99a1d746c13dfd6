"""meshgate.tokens: Istio's gen-jwt.py equivalent (istio/istio security/tools/jwt/samples)."""

from __future__ import annotations

import json

import pytest
from tests.support.samples import SAMPLES

from meshgate.jose.b64 import b64url_decode
from meshgate.jose.jwks import parse_jwks
from meshgate.jose.jws import ParsedJwt, parse_jwt
from meshgate.jose.mint import build_claims, generate_key, jwk_thumbprint, load_private_key, sign_token
from meshgate.jose.signature import verify
from meshgate.jose.status import JwtStatus


def _decode(segment: str) -> dict[str, object]:
    raw = b64url_decode(segment)
    assert raw is not None
    value = json.loads(raw)
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("name", ["demo.jwt", "groups-scope.jwt"])
def test_resigning_istio_samples_reproduces_them(name: str) -> None:
    sample = (SAMPLES / name).read_text().strip()
    claims = _decode(sample.split(".")[1])
    assert sign_token((SAMPLES / "key.pem").read_bytes(), claims) == sample


def test_sample_kid_is_rfc7638_thumbprint() -> None:
    jwk = json.loads((SAMPLES / "jwks.json").read_text())["keys"][0]
    assert jwk_thumbprint(jwk) == jwk["kid"] == "DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ"


def test_rfc7638_example() -> None:
    # RFC 7638 §3.1 example key and thumbprint
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWK"
            "RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic"
            "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
            "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("alg", "kty"),
    [
        ("RS256", "RSA"),
        ("PS256", "RSA"),
        ("ES256", "EC"),
        ("ES384", "EC"),
        ("EdDSA", "OKP"),
        ("HS256", "oct"),
    ],
)
def test_generate_sign_verify(alg: str, kty: str) -> None:
    secret, jwk = generate_key(alg)
    assert jwk["kty"] == kty and jwk["alg"] == alg and jwk["kid"] == jwk_thumbprint(jwk)
    assert "d" not in jwk  # public only (oct keys are the secret by nature)
    tok = sign_token(secret, {"iss": "i"}, alg=alg if alg in ("PS256", "HS256") else None)
    parsed = parse_jwt(tok)
    assert isinstance(parsed, ParsedJwt)
    assert parsed.header == {"alg": alg, "kid": jwk["kid"], "typ": "JWT"}
    assert verify(parsed, parse_jwks(json.dumps({"keys": [jwk]}))) is JwtStatus.OK


def test_explicit_kid_and_bad_alg() -> None:
    pem, _ = generate_key("ES256")
    parsed = parse_jwt(sign_token(pem, {}, kid="mine"))
    assert isinstance(parsed, ParsedJwt) and parsed.kid == "mine" and parsed.alg == "ES256"
    with pytest.raises(ValueError):
        sign_token(pem, {}, alg="RS256")
    with pytest.raises(ValueError):
        generate_key("none")
    with pytest.raises(ValueError):
        load_private_key(b"not a key")


@pytest.mark.parametrize(
    ("aud", "nbf", "expected_aud"),
    [([], None, None), (["a"], None, "a"), (["a", "b"], 5, ["a", "b"])],
)
def test_build_claims_like_gen_jwt(aud: list[str], nbf: int | None, expected_aud: object) -> None:
    claims = build_claims("iss", "sub", aud, {"foo": "bar"}, expires_in=3600, nbf=nbf, now=1000)
    assert claims["iss"] == "iss" and claims["sub"] == "sub" and claims["foo"] == "bar"
    assert (claims["iat"], claims["exp"]) == (1000, 4600)
    assert claims.get("aud") == expected_aud and claims.get("nbf") == nbf
