"""Wycheproof vectors (tests/data/wycheproof/) decided through meshgate's own verification path.

Each vector becomes what a gateway sees: the group's key as one JWKS entry through `jose/jwks.py`
`parse_jwks` (the group's `keyJwk`/`publicKeyJwk`; ECDSA groups without one: `publicKeyPem` written out
as an EC JWK; HMAC: the test's `key` as an `oct` JWK), and a `ParsedJwt` whose signing input is `msg` and
whose signature is `sig`/`tag`, handed to `jose/signature.py` `verify()`. Files are parsed once per
process (`load` is cached); the outcome is a string so a mismatch report can name it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from meshgate.jose.b64 import b64url_encode
from meshgate.jose.jwks import parse_jwks
from meshgate.jose.jws import ParsedJwt
from meshgate.jose.keys import KeySet
from meshgate.jose.signature import verify
from meshgate.jose.status import JwtStatus

DATA = Path(__file__).resolve().parents[1] / "data" / "wycheproof"

# file → (JWS alg, sha256 of the file as copied from C2SP/wycheproof@dac1dd4 testvectors_v1/)
FILES = {
    "rsa_signature_2048_sha256_test.json": (
        "RS256",
        "94a917b01ff50fb874cfc05bf29b4af44868d944a6558201cf18380da93fb393",
    ),
    "rsa_signature_3072_sha256_test.json": (
        "RS256",
        "0f5f18cabfaad3e2792e82f7e9882f8999049b456714de924b8a5e202f61ca43",
    ),
    "rsa_signature_4096_sha256_test.json": (
        "RS256",
        "957aca128e30bd02c8982f8ca482d6521d16683f4bbc3f193cdfd4c8f04bc667",
    ),
    "rsa_signature_2048_sha384_test.json": (
        "RS384",
        "c571c105d261c0ff588a2888a529f152563fb3b77894b7620d4e4f8f934f2c1d",
    ),
    "rsa_signature_2048_sha512_test.json": (
        "RS512",
        "16ea24b039905d054bdb6004f5fd179374e150b7b6d73a7ba654b6d00eab12ef",
    ),
    "rsa_pss_2048_sha256_mgf1_32_test.json": (
        "PS256",
        "7f6efafc160f4816b96cbf1c12188a31051d7e3f001e27505d9edb5f2a0e325c",
    ),
    "rsa_pss_3072_sha256_mgf1_32_test.json": (
        "PS256",
        "cca48433e6d1accb57f65b3396c4f4dd93c776467101c3f0948e74c283fd4749",
    ),
    "ecdsa_secp256r1_sha256_p1363_test.json": (
        "ES256",
        "c60de693930e386c3a5472d08081623ef8504decc54b38ac01ec6b2a2575c986",
    ),
    "ecdsa_secp384r1_sha384_p1363_test.json": (
        "ES384",
        "e27344bf6daae75fa19663620883809f91c79fc4b4420eff9eae8036b34476be",
    ),
    "ecdsa_secp521r1_sha512_p1363_test.json": (
        "ES512",
        "d294cbe0485dff0a2c53f6b363103ddb81c444e7e5ee44df56549ea92b873840",
    ),
    "ed25519_test.json": ("EdDSA", "752d2ea7d7c6cf4736381b6cbacb61f8182b126ab7cd9b058f00c50084975536"),
    "hmac_sha256_test.json": ("HS256", "2d201cfa61d1bf95e6f5d07d96634b4a348b31e8eaa277ad7c8d09677b7a743f"),
    "hmac_sha384_test.json": ("HS384", "28b9776e979dd755d852ca471043ea6cedce8b15f7a28abdf6ea9efd982b43c0"),
    "hmac_sha512_test.json": ("HS512", "b6c90477bdb4a6fc8ee3d1f7b2c0b69a8dfffab34718abaa6cabd71cc2ba1207"),
}

# RFC 7518 §3.4 curve ↔ JWK `crv` and octets per coordinate
_CURVES = {"secp256r1": ("P-256", 32), "secp384r1": ("P-384", 48), "secp521r1": ("P-521", 66)}
_MAC_BITS = {"HS256": 256, "HS384": 384, "HS512": 512}


@dataclass(frozen=True, slots=True)
class Vector:
    """One test case, with the JWK meshgate is given for it and where that JWK came from."""

    file: str
    alg: str
    group: int
    tc_id: int
    result: str  # "valid" | "invalid" | "acceptable"
    flags: tuple[str, ...]
    comment: str
    key_source: str  # "keyJwk" | "publicKeyJwk" | "publicKeyPem" | "key"
    jwk_json: str
    msg: bytes
    sig: bytes
    full_length: bool  # False only for HMAC groups with truncated tags (not JWS signatures)

    def describe(self) -> str:
        return f"tcId {self.tc_id} ({self.result}, {','.join(self.flags)}: {self.comment!r})"


def pem_to_jwk(group: dict[str, Any]) -> dict[str, str]:
    """An ECDSA group's `publicKeyPem` as the EC JWK an operator would publish for it."""
    key = load_pem_public_key(group["publicKeyPem"].encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    crv, size = _CURVES[group["publicKey"]["curve"]]
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64url_encode(numbers.x.to_bytes(size, "big")),
        "y": b64url_encode(numbers.y.to_bytes(size, "big")),
    }


def _group_key(group: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
    for source in ("keyJwk", "publicKeyJwk"):
        if source in group:
            return source, group[source]
    if "publicKeyPem" in group:
        return "publicKeyPem", pem_to_jwk(group)
    return "key", None  # MAC groups: the key is per test


def _vectors(name: str, alg: str, doc: dict[str, Any]) -> list[Vector]:
    out: list[Vector] = []
    for index, group in enumerate(doc["testGroups"]):
        source, jwk = _group_key(group)
        full = group.get("tagSize", _MAC_BITS.get(alg)) == _MAC_BITS.get(alg)
        for test in group["tests"]:
            if jwk is None:
                test_jwk = {"kty": "oct", "alg": alg, "k": b64url_encode(bytes.fromhex(test["key"]))}
            else:
                test_jwk = jwk
            signature = test["sig"] if "sig" in test else test["tag"]
            out.append(
                Vector(
                    name, alg, index, test["tcId"], test["result"], tuple(test["flags"]), test["comment"],
                    source, json.dumps({"keys": [test_jwk]}), bytes.fromhex(test["msg"]),
                    bytes.fromhex(signature), full,
                )
            )  # fmt: skip
    return out


@functools.cache
def load(name: str) -> tuple[tuple[Vector, ...], int]:
    """Every vector of one file, and the file's own `numberOfTests` (parsed once per process)."""
    doc = json.loads((DATA / name).read_bytes())
    return tuple(_vectors(name, FILES[name][0], doc)), int(doc["numberOfTests"])


def file_sha256(name: str) -> str:
    return hashlib.sha256((DATA / name).read_bytes()).hexdigest()


@functools.cache
def keyset(jwk_json: str) -> KeySet:
    """jose/jwks.py exactly as a fetched JWKS document is parsed (cached: groups share keys)."""
    return parse_jwks(jwk_json)


def jwt_for(vector: Vector) -> ParsedJwt:
    """A parsed token of the file's alg, no kid, signing input `msg`, signature `sig`."""
    header = {"alg": vector.alg}
    return ParsedJwt(
        token="", header=header, payload={}, payload_b64="", signing_input=vector.msg, signature=vector.sig,
        alg=vector.alg, kid="", iss="", sub="", has_sub=False, aud=(), iat=0, nbf=0, exp=0,
    )  # fmt: skip


REFUSED = "key refused at JWKS parse"


def decide(vector: Vector) -> str:
    """meshgate's answer: "OK", another JwtStatus name, REFUSED, or "raised <type>" (always a bug)."""
    try:
        keys = keyset(vector.jwk_json)
        if keys.status is not JwtStatus.OK:
            return REFUSED
        return verify(jwt_for(vector), keys).name
    except Exception as exc:  # an exception is itself the finding to report
        return f"raised {type(exc).__name__}: {exc}"
