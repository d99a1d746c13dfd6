"""Key material the engine reads: parsed JWKS as immutable values, and the snapshot of remote ones.

The key store (keystore/) owns fetching; it publishes a new `KeySnapshot` mapping per change. The engine
only reads it: an absent URI means "no successful fetch yet" (401 `Jwks remote fetch is failed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshgate.jose.status import JwtStatus


@dataclass(frozen=True, slots=True)
class Jwk:
    """One usable key. `key` is a `cryptography` public key, or the raw secret bytes for `oct`."""

    kty: str  # "RSA" | "EC" | "oct" | "OKP"
    kid: str | None
    alg: str | None
    key: Any
    crv: str | None = None


@dataclass(frozen=True, slots=True)
class KeySet:
    """A parsed JWKS document. `status` is OK, or why no key is usable (e.g. JWKS_NO_VALID_KEYS)."""

    keys: tuple[Jwk, ...]
    status: JwtStatus = JwtStatus.OK
    digest: str = ""  # sha256 of the document it was parsed from: the same document, the same keys

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(k.kid for k in self.keys if k.kid is not None)


KeySnapshot = Mapping[str, KeySet]  # jwksUri → last good key set
EMPTY_KEYS: KeySnapshot = {}
