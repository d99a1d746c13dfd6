"""Key selection and signatures: envoyproxy/envoy source/common/jwt/verify.cc verifyJwtWithoutTimeChecking,
with meshgate's safe answers (docs/security.md "Keys and signatures") where ids say `envoy-...`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tests.support.samples import SAMPLES

from meshgate.jose.b64 import b64url_decode, b64url_encode
from meshgate.jose.jwks import parse_jwks
from meshgate.jose.jws import ParsedJwt, parse_jwt
from meshgate.jose.keys import KeySet
from meshgate.jose.mint import generate_key, load_private_key, sign_token
from meshgate.jose.signature import verify
from meshgate.jose.status import JwtStatus as S

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
            S.OK,
            id="ed25519-key-skipped-for-rs256-envoy-stops-with-wrong-length",
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


# SEC 2 group orders; (r, n - s) verifying below proves each constant
ORDERS = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
    ),
    "ES512": int(
        "01FF" + "F" * 56 + "FFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16
    ),
}
SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}


def _rs(r: int, s: int, size: int) -> bytes:
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
@pytest.mark.parametrize(
    ("variant", "status"),
    [
        pytest.param("as-signed", S.OK, id="as-signed"),
        pytest.param("n-minus-s", S.OK, id="high-s-twin-verifies (proves n)"),
        pytest.param("r0-s0", S.JWT_VERIFICATION_FAIL, id="r0-s0-CVE-2022-21449-class"),
        pytest.param("r0", S.JWT_VERIFICATION_FAIL, id="r0"),
        pytest.param("s0", S.JWT_VERIFICATION_FAIL, id="s0"),
        pytest.param("r-eq-n", S.JWT_VERIFICATION_FAIL, id="r-eq-n"),
        pytest.param("s-eq-n", S.JWT_VERIFICATION_FAIL, id="s-eq-n"),
        pytest.param("s-plus-n", S.JWT_VERIFICATION_FAIL, id="s-plus-n-if-it-fits"),
        pytest.param("zero-padded", S.JWT_VERIFICATION_FAIL, id="envoy-accepts-zero-padded-halves"),
        pytest.param("short", S.JWT_VERIFICATION_FAIL, id="one-byte-short"),
        pytest.param("der", S.JWT_VERIFICATION_FAIL, id="der-encoded"),
    ],
)
def test_ecdsa_signature_encoding(alg: str, variant: str, status: S) -> None:
    """RFC 7518 §3.4: exactly r‖s of the curve's size, 0 < r, s < n (verify.cc splits any length)."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    token = token_for(alg)
    sig = b64url_decode(token.split(".")[2]) or b""
    size, n = SIZES[alg], ORDERS[alg]
    r, s = int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
    forged = {
        "as-signed": sig,
        "n-minus-s": _rs(r, n - s, size),
        "r0-s0": bytes(2 * size),
        "r0": _rs(0, s, size),
        "s0": _rs(r, 0, size),
        "r-eq-n": _rs(n, s, size),
        "s-eq-n": _rs(r, n, size),
        "s-plus-n": _rs(r, s + n, size) if (s + n).bit_length() <= 8 * size else _rs(r, n + 1, size),
        "zero-padded": b"\x00" + sig[:size] + b"\x00" + sig[size:],
        "short": sig[:-1],
        "der": encode_dss_signature(r, s),
    }[variant]
    assert verify(resign(token, forged), keyset(KEYS[alg][1])) is status


def _hmac(secret: bytes, token: str, alg: str = "HS256") -> ParsedJwt:
    """`token` re-labelled `alg` and MACed with `secret` (what an alg-confusion attacker sends)."""
    import hashlib
    import hmac

    _, p, _ = token.split(".")
    header = b64url_encode(json.dumps({"alg": alg, "kid": RS["kid"]}).encode())
    mac = hmac.new(secret, f"{header}.{p}".encode(), getattr(hashlib, "sha" + alg[2:])).digest()
    return parsed(f"{header}.{p}.{b64url_encode(mac)}")


def _rsa_public_forms() -> dict[str, bytes]:
    from cryptography.hazmat.primitives import serialization

    key = load_private_key(KEYS["RS256"][0]).public_key()
    return {
        "pem-spki": key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pem-pkcs1": key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "der": key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk-json": json.dumps(RS).encode(),
        "n-bytes": b64url_decode(RS["n"]) or b"",
    }


@pytest.mark.parametrize("form", sorted(_rsa_public_forms()))
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_alg_confusion_hmac_with_the_public_key_fails(form: str, alg: str) -> None:
    """CVE-2015-9235 / CVE-2016-10555 / CVE-2022-29217 / CVE-2024-33663: no HMAC key from a public key."""
    forged = _hmac(_rsa_public_forms()[form], token_for("RS256"), alg)
    assert verify(forged, keyset(RS)) is S.JWKS_KID_ALG_MISMATCH  # the key's alg is RS256
    assert verify(forged, keyset(_no(RS, "alg"), ES)) is S.JWT_VERIFICATION_FAIL


@pytest.mark.parametrize(
    ("token_alg", "key", "sign"),
    [
        pytest.param("RS256", "HS256", "hmac", id="envoy-hmacs-rs256-with-an-oct-key"),
        pytest.param("ES256", "HS256", "hmac", id="envoy-hmacs-es256-with-an-oct-key"),
        pytest.param("ES384", "ES256", "p256-sha384", id="envoy-accepts-es384-on-p256"),
    ],
)
def test_key_used_only_with_its_own_algorithm(token_alg: str, key: str, sign: str) -> None:
    """RFC 8725 §3.1: each key with exactly one algorithm (verify.cc hashes by the token alg, any kty)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    jwk = _no(KEYS[key][1], "alg", "kid")
    header = b64url_encode(json.dumps({"alg": token_alg}).encode())
    body = b64url_encode(json.dumps(CLAIMS).encode())
    data = f"{header}.{body}".encode()
    if sign == "hmac":
        import hashlib
        import hmac

        sig = hmac.new(KEYS[key][0], data, hashlib.sha256).digest()
    else:
        private = load_private_key(KEYS[key][0])
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA384())))
        sig = _rs(r, s, 32)
    assert verify(parsed(f"{header}.{body}.{b64url_encode(sig)}"), keyset(jwk)) is S.JWT_VERIFICATION_FAIL


@pytest.mark.parametrize("hint", ["jwk", "jku", "x5c", "kid-traversal"])
def test_token_carrying_its_own_key_is_rejected(hint: str) -> None:
    """RFC 8725 §3.10 / CVE-2018-0114 class: key hints in the header are never trusted or fetched."""
    attacker_pem, attacker_jwk = generate_key("RS256")
    extra: dict[str, Any] = {
        "jwk": {"jwk": attacker_jwk},
        "jku": {"jku": "http://127.0.0.1:1/jwks.json"},
        "x5c": {"x5c": ["MIIBIjANBgkq"]},
        "kid-traversal": {"kid": "../../../../../../dev/null"},
    }[hint]
    header = b64url_encode(json.dumps({"alg": "RS256", "kid": RS["kid"], **extra}).encode())
    body = b64url_encode(json.dumps(CLAIMS).encode())
    key = load_private_key(attacker_pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    sig = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    forged = parsed(f"{header}.{body}.{b64url_encode(sig)}")
    expected = S.JWKS_KID_ALG_MISMATCH if hint == "kid-traversal" else S.JWT_VERIFICATION_FAIL
    assert verify(forged, keyset(RS)) is expected


_PSS_HASHES = {"PS256": hashes.SHA256(), "PS384": hashes.SHA384(), "PS512": hashes.SHA512()}


@pytest.mark.parametrize(
    ("alg", "salt", "status"),
    [
        pytest.param("PS256", 32, S.OK, id="ps256-salt-32"),
        pytest.param("PS256", 0, S.JWT_VERIFICATION_FAIL, id="ps256-salt-0"),
        pytest.param("PS256", 20, S.JWT_VERIFICATION_FAIL, id="ps256-salt-20"),
        pytest.param("PS256", 64, S.JWT_VERIFICATION_FAIL, id="ps256-salt-64"),
        pytest.param("PS256", padding.PSS.MAX_LENGTH, S.JWT_VERIFICATION_FAIL, id="ps256-salt-max"),
        pytest.param("PS384", 48, S.OK, id="ps384-salt-48"),
        pytest.param("PS384", 32, S.JWT_VERIFICATION_FAIL, id="ps384-salt-32"),
        pytest.param("PS512", 64, S.OK, id="ps512-salt-64"),
        pytest.param("PS512", 32, S.JWT_VERIFICATION_FAIL, id="ps512-salt-32"),
    ],
)
def test_pss_salt_length_is_the_digest_length(alg: str, salt: int, status: S) -> None:
    """google/boringssl:crypto/evp/p_rsa.cc: verify salt length RSA_PSS_SALTLEN_DIGEST (verify.cc sets
    none); each row observed on Envoy 1.40 (401 `Jwt verification fails` for every other salt)."""
    pem, jwk = KEYS[alg]
    key = load_private_key(pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    token = token_for(alg)
    h, p, _ = token.split(".")
    hash_ = _PSS_HASHES[alg]
    sig = key.sign(f"{h}.{p}".encode(), padding.PSS(padding.MGF1(hash_), salt), hash_)
    assert verify(resign(token, sig), keyset(jwk)) is status


def test_hmac_wrong_length_and_wrong_secret() -> None:
    token = token_for("HS256")
    sig = b64url_decode(token.split(".")[2]) or b""
    ks = keyset(KEYS["HS256"][1])
    assert verify(resign(token, sig[:-1]), ks) is S.JWT_VERIFICATION_FAIL
    other = {**KEYS["HS256"][1], "k": b64url_encode(b"other secret")}
    assert verify(parsed(token), keyset(other)) is S.JWT_VERIFICATION_FAIL
