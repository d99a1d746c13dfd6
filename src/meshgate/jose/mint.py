"""Keys and signed test tokens: Istio's security/tools/jwt/samples/gen-jwt.py, built in (§5).

Header and payload are compact JSON with sorted keys (as jwcrypto writes them), so re-signing Istio's
demo.jwt claims with its key.pem reproduces demo.jwt byte for byte. `kid` defaults to the RFC 7638
thumbprint of the public key. Errors (unsupported alg, alg/key mismatch, unreadable key) raise ValueError.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from meshgate.jose.b64 import b64url_encode
from meshgate.jose.jws import IMPLEMENTED_ALGS

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

SUPPORTED_ALGS = tuple(sorted(IMPLEMENTED_ALGS))  # what meshgate can verify, it can sign
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "256": hashes.SHA256(),
    "384": hashes.SHA384(),
    "512": hashes.SHA512(),
}
_EC_CURVES = {
    "ES256": ("P-256", ec.SECP256R1()),
    "ES384": ("P-384", ec.SECP384R1()),
    "ES512": ("P-521", ec.SECP521R1()),
}
_CURVE_ALG = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}


def _b64_int(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(size, "big"))


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, compact JSON, base64url."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise ValueError(f"unsupported kty {jwk.get('kty')!r}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def public_jwk(key: PrivateKey) -> dict[str, Any]:
    """The public JWK (without kid/alg) of a private key."""
    if isinstance(key, rsa.RSAPrivateKey):
        nums = key.public_key().public_numbers()
        return {"kty": "RSA", "e": _b64_int(nums.e), "n": _b64_int(nums.n)}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        crv = _EC_CURVES[_CURVE_ALG[key.curve.name]][0]
        size = (key.curve.key_size + 7) // 8
        pub = key.public_key().public_numbers()
        return {"kty": "EC", "crv": crv, "x": _b64_int(pub.x, size), "y": _b64_int(pub.y, size)}
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def generate_key(alg: str) -> tuple[bytes, dict[str, Any]]:
    """A new private key (PKCS#8 PEM; raw secret for HS256) and its public JWK with kid and alg."""
    if alg == "HS256":
        secret = os.urandom(32)
        jwk: dict[str, Any] = {"kty": "oct", "k": b64url_encode(secret)}
        return secret, {**jwk, "kid": jwk_thumbprint(jwk), "alg": alg}
    key: PrivateKey
    if alg[:2] in ("RS", "PS") and alg in SUPPORTED_ALGS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg in _EC_CURVES:
        key = ec.generate_private_key(_EC_CURVES[alg][1])
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"unsupported alg {alg!r}; use one of {', '.join(SUPPORTED_ALGS)}")
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwk = public_jwk(key)
    return pem, {**jwk, "kid": jwk_thumbprint(jwk), "alg": alg}


@functools.lru_cache(maxsize=16)
def load_private_key(pem: bytes) -> PrivateKey:
    """An RSA, EC or Ed25519 private key from PEM (PKCS#1, SEC1 or PKCS#8)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot read private key: {exc}") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def _default_alg(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = _CURVE_ALG.get(key.curve.name)
        if alg is None:
            raise ValueError(f"unsupported curve {key.curve.name}")
        return alg
    return "EdDSA"


def _sign(key: PrivateKey, alg: str, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey) and alg in SUPPORTED_ALGS and alg[:2] in ("RS", "PS"):
        h = _HASHES[alg[2:]]
        if alg.startswith("RS"):
            return key.sign(data, padding.PKCS1v15(), h)
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    if isinstance(key, ec.EllipticCurvePrivateKey) and _CURVE_ALG.get(key.curve.name) == alg:
        size = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(_HASHES[alg[2:]])))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, ed25519.Ed25519PrivateKey) and alg == "EdDSA":
        return key.sign(data)
    raise ValueError(f"alg {alg!r} does not fit a {type(key).__name__}")


def _encode_json(value: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def sign_token(
    private_key_pem: bytes, claims: dict[str, Any], alg: str | None = None, kid: str | None = None
) -> str:
    """A compact JWS with header {alg, kid, typ: JWT}; HS* takes the raw secret instead of a PEM."""
    if alg is not None and alg.startswith("HS"):
        if alg not in ("HS256", "HS384", "HS512"):
            raise ValueError(f"unsupported alg {alg!r}")
        oct_jwk = {"kty": "oct", "k": b64url_encode(private_key_pem)}
        header = {"alg": alg, "kid": kid if kid is not None else jwk_thumbprint(oct_jwk), "typ": "JWT"}
        signing_input = f"{_encode_json(header)}.{_encode_json(claims)}"
        mac = hmac.HMAC(private_key_pem, _HASHES[alg[2:]])
        mac.update(signing_input.encode())
        return f"{signing_input}.{b64url_encode(mac.finalize())}"
    key = load_private_key(private_key_pem)
    alg = alg or _default_alg(key)
    header = {"alg": alg, "kid": kid if kid is not None else jwk_thumbprint(public_jwk(key)), "typ": "JWT"}
    signing_input = f"{_encode_json(header)}.{_encode_json(claims)}"
    return f"{signing_input}.{b64url_encode(_sign(key, alg, signing_input.encode()))}"


def build_claims(
    iss: str, sub: str, aud: list[str], extra: dict[str, Any], expires_in: int, nbf: int | None, now: int
) -> dict[str, Any]:
    """gen-jwt.py's payload: iss, sub, iat=now, exp=now+expires_in, aud (one → string), then extras."""
    claims: dict[str, Any] = {"iss": iss, "sub": sub, "iat": now, "exp": now + expires_in}
    if len(aud) == 1:
        claims["aud"] = aud[0]
    elif aud:
        claims["aud"] = list(aud)
    if nbf is not None:
        claims["nbf"] = nbf
    claims.update(extra)
    return claims
