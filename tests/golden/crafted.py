"""Hand-made tokens for the golden table's issue-10 rows: Istio's sample key over any segment spelling.

Each is signed over exactly its segments, so the answer depends on the spelling or the claim alone.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from meshgate.jose.b64 import b64url_encode
from meshgate.jose.mint import load_private_key

DATA = Path(__file__).resolve().parents[2] / "src" / "meshgate" / "data"
SAMPLE_KEY = (DATA / "key.pem").read_bytes()
DEMO_JWT = (DATA / "demo.jwt").read_text().strip()
ISSUER = "testing@secure.istio.io"
NOW = int(time.time())


def _signed_over(header_b64: str, payload_b64: str) -> str:
    """RS256 with Istio's sample key over exactly these segments (any spelling)."""
    key = load_private_key(SAMPLE_KEY)
    assert isinstance(key, rsa.RSAPrivateKey)
    data = f"{header_b64}.{payload_b64}".encode()
    return f"{header_b64}.{payload_b64}.{b64url_encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256()))}"


_DEMO_H, _DEMO_P, _DEMO_S = DEMO_JWT.split(".")
FORGED_DEMO = f"{_DEMO_H}.{_DEMO_P}.{_DEMO_S[:-6]}AAAAAA"


def _paddable_header() -> str:
    """demo.jwt's header with a filler claim, sized so its base64url needs `==` (2 characters left over)."""
    header = json.loads(base64.urlsafe_b64decode(_DEMO_H + "=" * (-len(_DEMO_H) % 4)))
    for n in range(4):
        text = b64url_encode(json.dumps({**header, "n": "x" * n}).encode())
        if len(text) % 4 == 2:
            return text
    raise AssertionError("unreachable: one of four lengths leaves two characters")


_PADDABLE_HEADER = _paddable_header()
PADDED_HEADER_JWT = _signed_over(_PADDABLE_HEADER + "==", _DEMO_P)
STD_ALPHABET_HEADER_JWT = _signed_over(_PADDABLE_HEADER.replace("-", "+").replace("_", "/") + "+/", _DEMO_P)
FRACTIONAL_EXP_JWT = _signed_over(
    _DEMO_H, b64url_encode(f'{{"iss":"{ISSUER}","sub":"{ISSUER}","exp":{NOW + 3600}.5}}'.encode())
)
PAST_FRACTIONAL_EXP_JWT = _signed_over(
    _DEMO_H, b64url_encode(f'{{"iss":"{ISSUER}","sub":"{ISSUER}","exp":{NOW - 120}.9}}'.encode())
)
