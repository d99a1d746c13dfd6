"""Istio's sample JWT material as packaged with meshgate (byte-for-byte copies, pinned by sha256 below)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "meshgate" / "data"

# istio/istio:security/tools/jwt/samples/ (see src/meshgate/data/README.md)
SHA256 = {
    "jwks.json": "140682cf86b98a53c51b10d42b8047027d412608bd8663964670c0708746e020",
    "key.pem": "024ba8af3a4e78795eea9f442a33011f2b5889c4f752a5c78c45055e75202b42",
    "demo.jwt": "040a3ece426701f8bb68540cb81844971f78b0ef6815af58d440a0e0d75e80d5",
    "groups-scope.jwt": "052579aade2f4bd5e2b559bbc5e54059491c4ebe725ce94d7ac816d83334954b",
}
