"""Key sets for the cases: a jwksUri mapped to a local file (`jwks:` in the test file, `--jwks URI=FILE`),
a `file://` URI read as is, or a remote one fetched once per run — never under `--offline`.

Also answers "is this signing key in any key set of the config?" by comparing key material (the public
key itself, not its kid), so a test author learns why a minted token cannot verify.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization

from meshgate.engine.engine import Engine
from meshgate.jose.jwks import parse_jwks
from meshgate.jose.keys import KeySet
from meshgate.jose.status import JwtStatus
from meshgate.keystore.oneshot import FetchOutcome, fetch_once

OFFLINE_HINT = "map it to a local JWKS file: `jwks: {URI: FILE}` in the test file, or --jwks URI=FILE"


@dataclass(frozen=True, slots=True)
class JwksMapping:
    file: str
    where: str  # `tests.yaml:7` or `--jwks`, for messages


@dataclass
class KeyResolver:
    """Resolves each URI once per run; `problems` make the run exit 2, `notes` explain failing cases."""

    offline: bool = False
    cache: dict[tuple[str, str], KeySet | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def outcomes(self, uris: Iterable[str], mapping: Mapping[str, JwksMapping]) -> list[FetchOutcome]:
        """What each URI resolved to, for the trace lines `meshgate check` prints."""
        out = []
        for uri in uris:
            mapped = mapping.get(uri)
            keyset = self.cache.get((uri, mapped.file if mapped else ""))
            out.append(FetchOutcome(uri, keyset, self.notes.get(uri, "no key set")))
        return out

    def snapshot(
        self, uris: Iterable[str], mapping: Mapping[str, JwksMapping], where: Callable[[str], str]
    ) -> tuple[dict[str, KeySet], list[str]]:
        """(jwksUri → KeySet, problems). A URI that could not be fetched is left out, as the gateway does.
        `where(uri)` places a problem that is not the mapping's (`tests.yaml:1: ... (resource at f:l)`)."""
        keys: dict[str, KeySet] = {}
        problems: list[str] = []
        for uri in uris:
            mapped = mapping.get(uri)
            cache_key = (uri, mapped.file if mapped else "")
            if cache_key not in self.cache:
                self.cache[cache_key] = self._resolve(uri, mapped, problems, where)
            keyset = self.cache[cache_key]
            if keyset is not None:
                keys[uri] = keyset
        return keys, problems

    def _resolve(
        self, uri: str, mapped: JwksMapping | None, problems: list[str], where: Callable[[str], str]
    ) -> KeySet | None:
        if mapped is not None:
            return self._from_file(uri, mapped, problems)
        remote = urllib.parse.urlparse(uri).scheme != "file"
        if remote and self.offline:
            problems.append(f"{where(uri)}: --offline and no local key set; {OFFLINE_HINT}")
            return None
        outcome = fetch_once(uri, 5.0)
        if outcome.keyset is None:
            self.notes[uri] = (
                f"jwksUri {uri}: {outcome.error} (the engine answers `Jwks remote fetch is failed`)"
            )
        return outcome.keyset

    def _from_file(self, uri: str, mapped: JwksMapping, problems: list[str]) -> KeySet | None:
        try:
            with open(mapped.file, encoding="utf-8") as fh:
                keyset = parse_jwks(fh.read())
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{mapped.where}: JWKS file for {uri}: {getattr(exc, 'strerror', None) or exc}")
            return None
        if keyset.status is not JwtStatus.OK:
            problems.append(f"{mapped.where}: JWKS file {mapped.file} for {uri}: {keyset.status.message}")
            return None
        return keyset


def engine_keysets(engine: Engine, remote: Mapping[str, KeySet]) -> list[tuple[str, KeySet]]:
    """Every key set the engine's JWT rules can verify with: (where, keys), inline ones included."""
    out: list[tuple[str, KeySet]] = []
    for provider in engine.authenticator.providers:
        if provider.inline is not None:
            out.append((f"inline jwks of {provider.describe()}", provider.inline))
        elif provider.jwks_uri in remote:
            out.append((provider.jwks_uri, remote[provider.jwks_uri]))
    return out


def key_material(key: Any) -> bytes:
    """Comparable bytes of a public key (SubjectPublicKeyInfo DER) or an HMAC secret."""
    if isinstance(key, bytes):
        return key
    return bytes(
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def holders(public_key: Any, keysets: Iterable[tuple[str, KeySet]]) -> list[str]:
    """Where the key sets holding this very key are (matched on key material, whatever the kid says)."""
    wanted = key_material(public_key)
    found = []
    for where, keyset in keysets:
        for jwk in keyset.keys:
            try:
                same = key_material(jwk.key) == wanted
            except (AttributeError, TypeError, ValueError):
                same = False
            if same:
                found.append(f"{where} (kid {jwk.kid})" if jwk.kid else where)
    return found
