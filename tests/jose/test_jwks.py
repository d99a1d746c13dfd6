"""JWKS parsing: google/jwt_verify_lib src/jwks.cc (= envoyproxy/envoy source/common/jwt/jwks.cc)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from tests.support.samples import SAMPLES

from meshgate.jose.b64 import b64url_decode, b64url_encode
from meshgate.jose.jwks import parse_jwks, parse_jwks_detailed
from meshgate.jose.mint import generate_key
from meshgate.jose.status import JwtStatus as S

RSA_JWK = generate_key("RS256")[1]
EC_JWK = generate_key("ES256")[1]
EC384_JWK = generate_key("ES384")[1]
ED_JWK = generate_key("EdDSA")[1]
OCT_JWK = generate_key("HS256")[1]


def with_(jwk: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {k: v for k, v in jwk.items() if k not in changes}
    out.update({k: v for k, v in changes.items() if v is not DROP})
    return out


DROP = object()


def _zero_padded(b64: str) -> str:
    """BN_bin2bn ignores leading zero bytes: the same coordinate, one byte longer."""
    return b64url_encode(b"\x00" + (b64url_decode(b64) or b""))


def doc(*keys: Any) -> str:
    return json.dumps({"keys": list(keys)})


def test_istio_sample_jwks() -> None:
    ks = parse_jwks((SAMPLES / "jwks.json").read_text())
    assert ks.status is S.OK
    assert ks.kids == ("DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ",)
    assert ks.keys[0].kty == "RSA" and ks.keys[0].alg is None


@pytest.mark.parametrize(
    ("text", "status"),
    [
        pytest.param("not json", S.JWKS_PARSE_ERROR, id="not-json"),
        pytest.param("[]", S.JWKS_PARSE_ERROR, id="array"),
        pytest.param("", S.JWKS_PARSE_ERROR, id="empty"),
        # protobuf refuses duplicate names: Envoy 1.40 refuses such an inline JWKS as `Jwks is an invalid JSON`
        pytest.param('{"keys": [], "keys": []}', S.JWKS_PARSE_ERROR, id="duplicate-name"),
        pytest.param('{"keys": [{"kty": "RSA", "kty": "RSA"}]}', S.JWKS_PARSE_ERROR, id="duplicate-in-key"),
        pytest.param("{}", S.JWKS_NO_KEYS, id="empty-object"),
        pytest.param('{"foo": 1}', S.JWKS_NO_KEYS, id="no-keys"),
        pytest.param('{"kid1": "not a cert"}', S.JWKS_NO_KEYS, id="string-not-pem"),
        pytest.param('{"keys": {}}', S.JWKS_BAD_KEYS, id="keys-object"),
        pytest.param('{"keys": []}', S.JWKS_NO_VALID_KEYS, id="keys-empty"),
        pytest.param('{"keys": [1, "x", null]}', S.JWKS_NO_VALID_KEYS, id="non-object-entries"),
        pytest.param('{"keys": ' + "[" * 100 + "]" * 100 + "}", S.JWKS_PARSE_ERROR, id="too-deep"),
    ],
)
def test_document_status(text: str, status: S) -> None:
    ks = parse_jwks(text)
    assert ks.status is status and ks.keys == ()


# jwks.cc extractJwk*: each bad key is skipped with this (logged) status
@pytest.mark.parametrize(
    ("jwk", "status"),
    [
        pytest.param({"n": "x"}, S.JWKS_MISSING_KTY, id="kty-missing"),
        pytest.param({"kty": 1}, S.JWKS_BAD_KTY, id="kty-number"),
        pytest.param({"kty": "XYZ"}, S.JWKS_NOT_IMPLEMENTED_KTY, id="kty-unknown"),
        pytest.param(with_(RSA_JWK, alg="ES256"), S.JWKS_RSA_KEY_BAD_ALG, id="rsa-alg"),
        pytest.param(with_(RSA_JWK, n=DROP), S.JWKS_RSA_KEY_MISSING_N, id="rsa-n-missing"),
        pytest.param(with_(RSA_JWK, n=5), S.JWKS_RSA_KEY_BAD_N, id="rsa-n-number"),
        pytest.param(with_(RSA_JWK, e=DROP), S.JWKS_RSA_KEY_MISSING_E, id="rsa-e-missing"),
        pytest.param(with_(RSA_JWK, e=[1]), S.JWKS_RSA_KEY_BAD_E, id="rsa-e-list"),
        pytest.param(with_(RSA_JWK, e="AQAC"), S.JWKS_RSA_PARSE_ERROR, id="rsa-e-not-3-or-65537"),
        pytest.param(with_(RSA_JWK, n="a+b"), S.JWKS_RSA_PARSE_ERROR, id="rsa-n-b64"),
        pytest.param(with_(RSA_JWK, n=b64url_encode(b"\x02" * 256)), S.JWKS_RSA_PARSE_ERROR, id="rsa-n-even"),
        pytest.param(with_(EC_JWK, alg="RS256"), S.JWKS_EC_KEY_BAD_ALG, id="ec-alg"),
        pytest.param(with_(EC_JWK, crv=5), S.JWKS_EC_KEY_BAD_CRV, id="ec-crv-number"),
        pytest.param(with_(EC_JWK, crv="P-384"), S.JWKS_EC_KEY_ALG_NOT_COMPATIBLE_WITH_CRV, id="ec-alg-crv"),
        pytest.param(with_(EC_JWK, alg=DROP, crv="P-999"), S.JWKS_EC_KEY_ALG_OR_CRV_UNSUPPORTED, id="ec-crv"),
        pytest.param(
            with_(EC_JWK, alg="ES999", crv=DROP), S.JWKS_EC_KEY_ALG_OR_CRV_UNSUPPORTED, id="ec-alg-only"
        ),
        pytest.param(with_(EC_JWK, x=DROP), S.JWKS_EC_KEY_MISSING_X, id="ec-x-missing"),
        pytest.param(with_(EC_JWK, x=1), S.JWKS_EC_KEY_BAD_X, id="ec-x-number"),
        pytest.param(with_(EC_JWK, y=DROP), S.JWKS_EC_KEY_MISSING_Y, id="ec-y-missing"),
        pytest.param(with_(EC_JWK, y=True), S.JWKS_EC_KEY_BAD_Y, id="ec-y-bool"),
        pytest.param(with_(EC_JWK, y="a/b"), S.JWKS_EC_X_OR_Y_BAD_BASE64, id="ec-y-b64"),
        pytest.param(with_(EC_JWK, y=EC_JWK["x"]), S.JWKS_EC_PARSE_ERROR, id="ec-off-curve"),
        pytest.param(with_(EC384_JWK, alg=DROP, crv=DROP), S.JWKS_EC_PARSE_ERROR, id="ec-default-p256"),
        pytest.param(with_(OCT_JWK, alg="RS256"), S.JWKS_HMAC_KEY_BAD_ALG, id="oct-alg"),
        pytest.param(with_(OCT_JWK, k=DROP), S.JWKS_HMAC_KEY_MISSING_K, id="oct-k-missing"),
        pytest.param(with_(OCT_JWK, k=1), S.JWKS_HMAC_KEY_BAD_K, id="oct-k-number"),
        pytest.param(with_(OCT_JWK, k=""), S.JWKS_OCT_BAD_BASE64, id="oct-k-empty"),
        pytest.param(with_(OCT_JWK, k="+"), S.JWKS_OCT_BAD_BASE64, id="oct-k-b64"),
        pytest.param(with_(ED_JWK, alg="ES256"), S.JWKS_OKP_KEY_BAD_ALG, id="okp-alg"),
        pytest.param(with_(ED_JWK, crv=DROP), S.JWKS_OKP_KEY_MISSING_CRV, id="okp-crv-missing"),
        pytest.param(with_(ED_JWK, crv=1), S.JWKS_OKP_KEY_BAD_CRV, id="okp-crv-number"),
        pytest.param(with_(ED_JWK, crv="X25519"), S.JWKS_OKP_KEY_CRV_UNSUPPORTED, id="okp-x25519"),
        pytest.param(with_(ED_JWK, x=DROP), S.JWKS_OKP_KEY_MISSING_X, id="okp-x-missing"),
        pytest.param(with_(ED_JWK, x=1), S.JWKS_OKP_KEY_BAD_X, id="okp-x-number"),
        pytest.param(with_(ED_JWK, x="+"), S.JWKS_OKP_X_BAD_BASE64, id="okp-x-b64"),
        pytest.param(with_(ED_JWK, x=b64url_encode(b"1" * 31)), S.JWKS_OKP_X_WRONG_LENGTH, id="okp-x-31"),
    ],
)
def test_bad_key_is_skipped(jwk: dict[str, Any], status: S) -> None:
    alone, errors = parse_jwks_detailed(doc(jwk))
    assert alone.status is S.JWKS_NO_VALID_KEYS and alone.keys == ()
    assert errors == (status,)
    mixed = parse_jwks(doc(jwk, RSA_JWK))  # newest jwks.cc keeps going past a bad key
    assert mixed.status is S.OK and mixed.kids == (RSA_JWK["kid"],)


@pytest.mark.parametrize(
    ("jwk", "kty", "crv"),
    [
        pytest.param(RSA_JWK, "RSA", None, id="rsa"),
        pytest.param(with_(RSA_JWK, alg="PS384"), "RSA", None, id="rsa-ps-alg"),
        pytest.param(with_(RSA_JWK, e="Aw"), "RSA", None, id="rsa-e-3-parses"),
        pytest.param(EC_JWK, "EC", "P-256", id="ec256"),
        pytest.param(EC384_JWK, "EC", "P-384", id="ec384"),
        pytest.param(with_(EC384_JWK, crv=DROP), "EC", "P-384", id="ec-alg-picks-curve"),
        pytest.param(with_(EC_JWK, alg=DROP, crv=DROP), "EC", "P-256", id="ec-neither-p256"),
        pytest.param(with_(EC_JWK, x=_zero_padded(EC_JWK["x"])), "EC", "P-256", id="ec-x-leading-zero-byte"),
        pytest.param(ED_JWK, "OKP", "Ed25519", id="ed25519"),
        pytest.param(OCT_JWK, "oct", None, id="oct"),
        pytest.param(with_(RSA_JWK, kid=7, alg=8), "RSA", None, id="non-string-kid-alg-ignored"),
    ],
)
def test_good_key(jwk: dict[str, Any], kty: str, crv: str | None) -> None:
    ks = parse_jwks(doc(jwk))
    assert ks.status is S.OK and len(ks.keys) == 1
    key = ks.keys[0]
    assert key.kty == kty and key.crv == crv and key.key is not None
    assert key.kid == (jwk["kid"] if isinstance(jwk.get("kid"), str) else None)
    assert key.alg == (jwk["alg"] if isinstance(jwk.get("alg"), str) else None)


def test_empty_kid_and_alg_count_as_absent() -> None:
    key = parse_jwks(doc(with_(RSA_JWK, kid="", alg=""))).keys[0]
    assert key.kid is None and key.alg is None


def _cert(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_google_x509_form() -> None:
    # jwks.cc shouldCheckX509 / createFromX509: {kid: PEM certificate}, RSA only
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ks = parse_jwks(json.dumps({"k1": _cert(rsa_key), "k2": _cert(rsa_key)}))
    assert ks.status is S.OK and ks.kids == ("k1", "k2") and all(k.kty == "RSA" for k in ks.keys)
    ec_cert = _cert(ec.generate_private_key(ec.SECP256R1()))
    assert parse_jwks(json.dumps({"k1": _cert(rsa_key), "k2": ec_cert})).status is S.JWKS_NO_VALID_KEYS
    assert parse_jwks(json.dumps({"": _cert(rsa_key)})).status is S.JWKS_NO_KEYS  # empty kid
    assert parse_jwks(json.dumps({"k": _cert(rsa_key).rstrip("\n")})).status is S.JWKS_NO_KEYS  # suffix


@pytest.mark.parametrize(
    "text", ["\x00", '{"keys":[{"kty":"RSA","n":"' + "A" * 5000 + '","e":"AQAB"}]}', "1e999"]
)
def test_never_raises(text: str) -> None:
    assert parse_jwks(text).status is not S.OK
