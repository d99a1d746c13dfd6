"""The verified-token cache: a token whose signature verified is not verified again.

What a signature check depends on is the token's bytes and the key set's document, so an entry is keyed
by (token, provider, key set digest) and holds the parsed token until its `exp` (plus the clock skew).
Every other check (issuer, time, audience) still runs on each use, so an entry is never a stale answer;
Envoy has no such cache under Istio (jwt_cache_config is never set), which is why it must not change one.

One cache serves a whole process and outlives reloads: a reload that leaves a provider (its JwtRule)
unchanged keeps that provider's entries, a key set refetched with the same document keeps its entries,
and `forget` drops the entries of the providers a reload removed or changed. Bounded, least recently used
first out; `hits` / `misses` are exported on /stats (a miss costs a parse and a signature check).
"""

from __future__ import annotations

import math
from collections.abc import Collection

from meshgate.authn.memo import WindowedLru
from meshgate.authn.providers import Provider
from meshgate.jose.jws import ParsedJwt
from meshgate.jose.keys import KeySet

DEFAULT_MAX_ENTRIES = 4096


class VerifiedTokens:
    """(token, provider, key set) → the verified ParsedJwt, valid until its expiry."""

    __slots__ = ("_cache",)

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._cache: WindowedLru[ParsedJwt] = WindowedLru(max_entries)

    def get(self, token: str, provider: Provider, keyset: KeySet | None, now: float) -> ParsedJwt | None:
        return self._cache.get(_key(token, provider, keyset), now)

    def put(self, provider: Provider, keyset: KeySet | None, parsed: ParsedJwt, until: float) -> None:
        """Remember `parsed`, whose signature just verified with `keyset`, until `until` (exclusive)."""
        self._cache.put(_key(parsed.token, provider, keyset), parsed, -math.inf, until, keyset)

    def forget(self, fingerprints: Collection[int]) -> int:
        """Drop every entry of these providers (a reload removed or changed them); how many went."""
        if not fingerprints:
            return 0
        return self._cache.drop_where(lambda key: isinstance(key, tuple) and key[1] in fingerprints)

    def clear(self) -> None:
        self._cache.clear()

    @property
    def hits(self) -> int:
        return self._cache.hits

    @property
    def misses(self) -> int:
        return self._cache.misses

    def __len__(self) -> int:
        return len(self._cache)


def _key(token: str, provider: Provider, keyset: KeySet | None) -> tuple[str, int, object]:
    # A key set parsed from a document is named by its digest; one built otherwise by its identity (the
    # entry pins the object, so the id cannot be reused while the entry lives).
    return (
        token,
        provider.fingerprint,
        keyset.digest if keyset is not None and keyset.digest else id(keyset),
    )
