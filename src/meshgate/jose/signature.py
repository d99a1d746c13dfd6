"""Key selection and signature checks exactly as jwt_verify_lib's verify.cc (docs/istio-semantics.md §4.4).

Source: envoyproxy/envoy:source/common/jwt/verify.cc verifyJwtWithoutTimeChecking. Kept as is:
- a key is skipped when token and key both carry a (non-empty) kid and they differ, or the key has an
  alg different from the token's; no key left → JwksKidAlgMismatch, else JwtVerificationFail;
- the hash comes from the token's alg, not the key (EC/oct default to SHA-256 for any other alg);
- RSA keys are tried only for RS*/PS* tokens; PSS uses MGF1 with the same hash and BoringSSL's default
  salt length, the digest length (google/boringssl:crypto/evp/p_rsa.cc RSA_PKEY_CTX `saltlen =
  RSA_PSS_SALTLEN_DIGEST`; verify.cc sets none): any other salt fails, on Envoy 1.40 too (RFC 7518 §3.5);
- ECDSA: the raw signature is split in half (r‖s) with no length check (BN_bin2bn of each half);
- HMAC: length check then constant-time compare;
- Ed25519: a signature that is not 64 bytes ends the search with JwtEd25519SignatureWrongLength.
Every primitive comes from `cryptography`.

meshgate's safe answers (docs/security.md "Keys and signatures"; RFC 8725 §3.1, RFC 7518 §3.4):
- a key is only used with its own family: RSA for RS*/PS*, EC for the ES* of its curve, oct for HS*,
  Ed25519 for EdDSA (Envoy hashes with SHA-256 for any EC/oct key and lets an Ed25519 key end the
  search for any alg); a skipped key still counts as kid/alg-matched, as in Envoy;
- ECDSA: the signature must be exactly r‖s of the curve's size (Envoy splits any length in half) and
  0 < r, s < n (the group order), so no zero-padded or out-of-range variant verifies.
"""

from __future__ import annotations

import hmac as std_hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from meshgate.jose.jws import ParsedJwt
from meshgate.jose.keys import Jwk, KeySet
from meshgate.jose.status import JwtStatus

ED25519_SIGNATURE_LEN = 64  # BoringSSL ED25519_SIGNATURE_LEN
_HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})

_SHA256 = hashes.SHA256()
_SHA384 = hashes.SHA384()
_SHA512 = hashes.SHA512()
_PKCS1 = padding.PKCS1v15()
_PSS = {
    h.name: padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH)
    for h in (_SHA256, _SHA384, _SHA512)
}
_ECDSA = {h.name: ec.ECDSA(h) for h in (_SHA256, _SHA384, _SHA512)}
_EC_HASH = {"ES384": _SHA384, "ES512": _SHA512}  # verify.cc: default SHA-256
_RSA_HASH = {"RS384": _SHA384, "PS384": _SHA384, "RS512": _SHA512, "PS512": _SHA512}
_HMAC_HASH = {"HS384": _SHA384, "HS512": _SHA512}
# RFC 7518 §3.4: ES* alg → (JWK crv, octets per coordinate, group order n from SEC 2 / FIPS 186-4)
_EC_PARAMS = {
    "ES256": ("P-256", 32, 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "ES384": (
        "P-384",
        48,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    ),
    "ES512": (
        "P-521",
        66,
        0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
    ),
}


def verify(parsed: ParsedJwt, keyset: KeySet) -> JwtStatus:
    """Try every key that survives the kid/alg filter; first success wins."""
    kid_alg_matched = False
    token_kid = parsed.kid
    alg = parsed.alg
    for jwk in keyset.keys:
        if token_kid and jwk.kid and jwk.kid != token_kid:
            continue
        if jwk.alg and jwk.alg != alg:
            continue
        kid_alg_matched = True
        status = _try_key(jwk, parsed)
        if status is not None:
            return status
    return JwtStatus.JWT_VERIFICATION_FAIL if kid_alg_matched else JwtStatus.JWKS_KID_ALG_MISMATCH


def _try_key(jwk: Jwk, parsed: ParsedJwt) -> JwtStatus | None:
    """OK on success, a terminal status (Ed25519 length), or None to keep trying keys."""
    kty = jwk.kty
    alg = parsed.alg
    sig = parsed.signature
    data = parsed.signing_input
    try:
        if kty == "RSA":
            prefix = alg[:2]
            hash_ = _RSA_HASH.get(alg, _SHA256)
            if prefix == "RS":
                jwk.key.verify(sig, data, _PKCS1, hash_)
                return JwtStatus.OK
            if prefix == "PS":
                jwk.key.verify(sig, data, _PSS[hash_.name], hash_)
                return JwtStatus.OK
            return None
        if kty == "EC":
            params = _EC_PARAMS.get(alg)
            if params is None or jwk.crv != params[0] or len(sig) != 2 * params[1]:
                return None
            half, order = params[1], params[2]
            r = int.from_bytes(sig[:half], "big")
            s = int.from_bytes(sig[half:], "big")
            if not (0 < r < order and 0 < s < order):
                return None
            jwk.key.verify(encode_dss_signature(r, s), data, _ECDSA[_EC_HASH.get(alg, _SHA256).name])
            return JwtStatus.OK
        if kty == "oct":
            if alg not in _HMAC_ALGS:
                return None
            mac = crypto_hmac.HMAC(jwk.key, _HMAC_HASH.get(alg, _SHA256))
            mac.update(data)
            expected = mac.finalize()
            if len(expected) == len(sig) and std_hmac.compare_digest(expected, sig):
                return JwtStatus.OK
            return None
        if kty == "OKP" and jwk.crv == "Ed25519":
            if alg != "EdDSA":
                return None
            if len(sig) != ED25519_SIGNATURE_LEN:
                return JwtStatus.JWT_ED25519_SIGNATURE_WRONG_LENGTH
            if jwk.key is None:
                return None
            jwk.key.verify(sig, data)
            return JwtStatus.OK
    except (InvalidSignature, ValueError, TypeError):
        return None
    return None
