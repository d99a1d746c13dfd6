"""Parse a JWKS document into a KeySet exactly as jwt_verify_lib does (docs/istio-semantics.md §4.3).

Source: envoyproxy/envoy:source/common/jwt/jwks.cc (vendored google/jwt_verify_lib src/jwks.cc),
createFromJwksCore / extractJwk* / shouldCheckX509. Behaviour kept:
- not a JSON object → JWKS_PARSE_ERROR; `keys` present but not a list → JWKS_BAD_KEYS;
- `keys` absent: the Google `{kid: "<PEM certificate>"}` form if every field qualifies, else JWKS_NO_KEYS;
- non-object entries and bad keys are skipped; no usable key → KeySet((), JWKS_NO_VALID_KEYS) (the library
  itself keeps the first key error as its status; only the fact "not OK" is observable through Envoy:
  inline → `Jwks doesn't have any valid public key`, remote → `Jwks remote fetch is failed`);
- `kid`/`alg` that are not strings, or empty, count as absent (newest code tests `alg_.empty()`).
Per-key reasons are available from `parse_jwks_detailed` for logs. Never raises.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from meshgate.jose.b64 import b64url_decode, load_json_object
from meshgate.jose.keys import Jwk, KeySet
from meshgate.jose.status import JwtStatus

# jwks.cc kX509CertPrefix / kX509CertSuffix
X509_CERT_PREFIX = "-----BEGIN CERTIFICATE-----\n"
X509_CERT_SUFFIX = "\n-----END CERTIFICATE-----\n"

# jwks.cc extractJwkFromJwkEC: alg ↔ crv pairs and the curve each selects
_EC_ALG_CRV = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})
_ED25519_PUBLIC_KEY_LEN = 32  # BoringSSL ED25519_PUBLIC_KEY_LEN
_RSA_ALLOWED_E = (3, 65537)  # jwks.cc createRsaFromJwk: "non-standard key; reject it early"
# BoringSSL rsa_check_public_key (RSA_check_key on a public key): odd modulus, 512..16384 bits, e ≤ 33 bits.
_RSA_MIN_BITS = 512
_RSA_MAX_BITS = 16 * 1024


class _KeyError(Exception):
    """A key the library would skip, with the status it would record."""

    def __init__(self, status: JwtStatus) -> None:
        super().__init__(status.value)
        self.status = status


def parse_jwks(text: str) -> KeySet:
    """JWKS text → KeySet; `status` is OK when at least one key is usable."""
    return parse_jwks_detailed(text)[0]


def parse_jwks_detailed(text: str) -> tuple[KeySet, tuple[JwtStatus, ...]]:
    """Like parse_jwks, plus the status of every skipped key (in document order), for logging.

    The key set carries the digest of `text`: a verified-token cache keyed by it survives a refresh or a
    reload that brings the very same document, and never outlives a change of it.
    """
    try:
        keyset, skipped = _parse(text)
    except Exception:  # a parser bug must never escape into the fetcher or validator
        keyset, skipped = KeySet((), JwtStatus.JWKS_PARSE_ERROR), ()
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return dataclasses.replace(keyset, digest=digest), skipped


def _parse(text: str) -> tuple[KeySet, tuple[JwtStatus, ...]]:
    doc = load_json_object(text)
    if doc is None:
        return KeySet((), JwtStatus.JWKS_PARSE_ERROR), ()
    if "keys" not in doc:
        if _should_check_x509(doc):
            return _from_x509(doc), ()
        return KeySet((), JwtStatus.JWKS_NO_KEYS), ()
    entries = doc["keys"]
    if not isinstance(entries, list):
        return KeySet((), JwtStatus.JWKS_BAD_KEYS), ()
    keys: list[Jwk] = []
    errors: list[JwtStatus] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        try:
            keys.append(_extract_jwk(entry))
        except _KeyError as exc:
            errors.append(exc.status)
    if not keys:
        return KeySet((), JwtStatus.JWKS_NO_VALID_KEYS), tuple(errors)
    return KeySet(tuple(keys)), tuple(errors)


def _get_string(jwk: dict[str, Any], name: str, missing: JwtStatus, wrong_type: JwtStatus) -> str:
    """struct_utils.cc GetString: absent → MISSING, present but not a string (null too) → WRONG_TYPE."""
    if name not in jwk:
        raise _KeyError(missing)
    value = jwk[name]
    if not isinstance(value, str):
        raise _KeyError(wrong_type)
    return value


def _optional_string(jwk: dict[str, Any], name: str) -> str | None:
    value = jwk.get(name)
    return value if isinstance(value, str) and value else None


def _extract_jwk(jwk: dict[str, Any]) -> Jwk:
    kty = _get_string(jwk, "kty", JwtStatus.JWKS_MISSING_KTY, JwtStatus.JWKS_BAD_KTY)
    kid = _optional_string(jwk, "kid")
    alg = _optional_string(jwk, "alg")
    if kty == "EC":
        return _extract_ec(jwk, kid, alg)
    if kty == "RSA":
        return Jwk("RSA", kid, alg, _extract_rsa(jwk, alg))
    if kty == "oct":
        return Jwk("oct", kid, alg, _extract_oct(jwk, alg))
    if kty == "OKP":
        return _extract_okp(jwk, kid, alg)
    raise _KeyError(JwtStatus.JWKS_NOT_IMPLEMENTED_KTY)


def _extract_rsa(jwk: dict[str, Any], alg: str | None) -> rsa.RSAPublicKey:
    if alg is not None and not alg.startswith(("RS", "PS")):
        raise _KeyError(JwtStatus.JWKS_RSA_KEY_BAD_ALG)
    n_str = _get_string(jwk, "n", JwtStatus.JWKS_RSA_KEY_MISSING_N, JwtStatus.JWKS_RSA_KEY_BAD_N)
    e_str = _get_string(jwk, "e", JwtStatus.JWKS_RSA_KEY_MISSING_E, JwtStatus.JWKS_RSA_KEY_BAD_E)
    n_raw = b64url_decode(n_str)
    e_raw = b64url_decode(e_str)
    if n_raw is None or e_raw is None:
        raise _KeyError(JwtStatus.JWKS_RSA_PARSE_ERROR)
    n = int.from_bytes(n_raw, "big")
    e = int.from_bytes(e_raw, "big")
    if e not in _RSA_ALLOWED_E:
        raise _KeyError(JwtStatus.JWKS_RSA_PARSE_ERROR)
    if n % 2 == 0 or not _RSA_MIN_BITS <= n.bit_length() <= _RSA_MAX_BITS:
        raise _KeyError(JwtStatus.JWKS_RSA_PARSE_ERROR)
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise _KeyError(JwtStatus.JWKS_RSA_PARSE_ERROR) from exc


def _extract_ec(jwk: dict[str, Any], kid: str | None, alg: str | None) -> Jwk:
    if alg is not None and not alg.startswith("ES"):
        raise _KeyError(JwtStatus.JWKS_EC_KEY_BAD_ALG)
    crv = ""
    if "crv" in jwk:
        crv = _get_string(jwk, "crv", JwtStatus.JWKS_EC_KEY_BAD_CRV, JwtStatus.JWKS_EC_KEY_BAD_CRV)
    if alg is not None and crv and _EC_ALG_CRV.get(alg) != crv:
        raise _KeyError(JwtStatus.JWKS_EC_KEY_ALG_NOT_COMPATIBLE_WITH_CRV)
    if alg is None and not crv:
        crv = "P-256"
    # jwks.cc: alg wins when it names a curve, else crv decides.
    curve_name = _EC_ALG_CRV.get(alg or "") or (crv if crv in _EC_CURVES else None)
    if curve_name is None:
        raise _KeyError(JwtStatus.JWKS_EC_KEY_ALG_OR_CRV_UNSUPPORTED)
    x_str = _get_string(jwk, "x", JwtStatus.JWKS_EC_KEY_MISSING_X, JwtStatus.JWKS_EC_KEY_BAD_X)
    y_str = _get_string(jwk, "y", JwtStatus.JWKS_EC_KEY_MISSING_Y, JwtStatus.JWKS_EC_KEY_BAD_Y)
    x_raw = b64url_decode(x_str)
    y_raw = b64url_decode(y_str)
    if x_raw is None or y_raw is None:
        raise _KeyError(JwtStatus.JWKS_EC_X_OR_Y_BAD_BASE64)
    x = int.from_bytes(x_raw, "big")
    y = int.from_bytes(y_raw, "big")
    try:
        key = ec.EllipticCurvePublicNumbers(x, y, _EC_CURVES[curve_name]).public_key()
    except ValueError as exc:  # off the curve, or a coordinate out of range
        raise _KeyError(JwtStatus.JWKS_EC_PARSE_ERROR) from exc
    return Jwk("EC", kid, alg, key, curve_name)


def _extract_oct(jwk: dict[str, Any], alg: str | None) -> bytes:
    if alg is not None and alg not in _HMAC_ALGS:
        raise _KeyError(JwtStatus.JWKS_HMAC_KEY_BAD_ALG)
    k_str = _get_string(jwk, "k", JwtStatus.JWKS_HMAC_KEY_MISSING_K, JwtStatus.JWKS_HMAC_KEY_BAD_K)
    secret = b64url_decode(k_str)
    if not secret:
        raise _KeyError(JwtStatus.JWKS_OCT_BAD_BASE64)
    return secret


def _extract_okp(jwk: dict[str, Any], kid: str | None, alg: str | None) -> Jwk:
    if alg is not None and alg != "EdDSA":
        raise _KeyError(JwtStatus.JWKS_OKP_KEY_BAD_ALG)
    crv = _get_string(jwk, "crv", JwtStatus.JWKS_OKP_KEY_MISSING_CRV, JwtStatus.JWKS_OKP_KEY_BAD_CRV)
    if crv != "Ed25519":
        raise _KeyError(JwtStatus.JWKS_OKP_KEY_CRV_UNSUPPORTED)
    x_str = _get_string(jwk, "x", JwtStatus.JWKS_OKP_KEY_MISSING_X, JwtStatus.JWKS_OKP_KEY_BAD_X)
    raw = b64url_decode(x_str)
    if raw is None:
        raise _KeyError(JwtStatus.JWKS_OKP_X_BAD_BASE64)
    if len(raw) != _ED25519_PUBLIC_KEY_LEN:
        raise _KeyError(JwtStatus.JWKS_OKP_X_WRONG_LENGTH)
    try:
        key: ed25519.Ed25519PublicKey | None = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:  # BoringSSL keeps any 32 bytes; such a key simply never verifies
        key = None
    return Jwk("OKP", kid, alg, key, crv)


def _should_check_x509(doc: dict[str, Any]) -> bool:
    """jwks.cc shouldCheckX509: non-empty, every name non-empty, every value a framed PEM certificate."""
    if not doc:
        return False
    for kid, cert in doc.items():
        if not kid or not isinstance(cert, str):
            return False
        if not (cert.startswith(X509_CERT_PREFIX) and cert.endswith(X509_CERT_SUFFIX)):
            return False
    return True


def _from_x509(doc: dict[str, Any]) -> KeySet:
    """jwks.cc createFromX509: RSA certificates only; any failing certificate fails the document.

    The library reports JwksX509ParseError / JwksX509GetPubkeyError, which our JwtStatus does not carry;
    both are only ever observed as "not OK" (fetch failure), so JWKS_NO_VALID_KEYS stands in for them.
    """
    keys: list[Jwk] = []
    for kid, cert_pem in doc.items():
        try:
            cert = x509.load_pem_x509_certificate(cert_pem.encode("utf-8"))
            public_key = cert.public_key()
        except ValueError:
            return KeySet((), JwtStatus.JWKS_NO_VALID_KEYS)
        if not isinstance(public_key, rsa.RSAPublicKey):
            return KeySet((), JwtStatus.JWKS_NO_VALID_KEYS)
        keys.append(Jwk("RSA", kid, None, public_key))
    return KeySet(tuple(keys))
