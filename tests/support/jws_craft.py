"""Hand-made compact JWS tokens for parity and attack tables: any segment spelling, a real signature.

`sign_segments(header_b64, payload_b64)` signs exactly the given (possibly non-canonical) segment text with
Istio's sample RSA key, so a verifier that accepts the spelling would accept the token: a refusal is then
about the spelling alone, never about the signature.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tests.support.samples import SAMPLES

from meshgate.jose.b64 import b64url_encode
from meshgate.jose.mint import load_private_key

SAMPLE_PEM = (SAMPLES / "key.pem").read_bytes()
SAMPLE_KID = json.loads((SAMPLES / "jwks.json").read_text())["keys"][0]["kid"]
ISSUER = "testing@secure.istio.io"
HEADER = {"alg": "RS256", "kid": SAMPLE_KID, "typ": "JWT"}


def json_text(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def seg(text: str | bytes) -> str:
    """Canonical base64url of `text` (RFC 7515 §2)."""
    return b64url_encode(text.encode() if isinstance(text, str) else text)


def std_b64(text: str | bytes, pad: bool = True) -> str:
    """Standard-alphabet base64 (`+`, `/`), padded unless `pad` is False."""
    out = base64.b64encode(text.encode() if isinstance(text, str) else text).decode()
    return out if pad else out.rstrip("=")


def sign_segments(header_b64: str, payload_b64: str, pem: bytes = SAMPLE_PEM) -> str:
    """`header.payload.signature` with an RS256 signature over exactly `header_b64.payload_b64`."""
    key = load_private_key(pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    data = f"{header_b64}.{payload_b64}".encode("latin-1")
    return f"{header_b64}.{payload_b64}.{b64url_encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256()))}"


def forge(token: str) -> str:
    """The same token with its signature's last characters changed: a signature that does not verify."""
    tail = "AAAA" if not token.endswith("AAAA") else "BBBB"
    return token[:-4] + tail


def sign_claims_text(payload_json: str, header: dict[str, Any] | None = None) -> str:
    """A token whose payload is exactly `payload_json` (e.g. a fractional `exp` literal)."""
    return sign_segments(seg(json_text(header or HEADER)), seg(payload_json))
