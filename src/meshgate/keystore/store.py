"""The key store: the only moving state (docs/architecture.md). Fetches, refreshes, refetches on an unknown kid, keeps
the last good key set, and publishes an immutable `KeySnapshot` (jwksUri → KeySet) on every change.

Timing: first fetch at `start()`; refresh every `refresh_interval_s` (Envoy `cache_duration`, Istio 300 s,
docs/istio-semantics.md §3.6) or the document's `Cache-Control: max-age` clamped to [30 s, 24 h]; after a failure,
retry with exponential backoff + jitter (1 s doubling up to 5 min) keeping the last good set. A URI absent
from the snapshot has never been fetched: the engine answers 401 `Jwks remote fetch is failed`.
`file://` sources are polled: a changed (mtime, size, inode) means new keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from types import MappingProxyType
from typing import Any

from meshgate.jose.keys import EMPTY_KEYS, KeySnapshot
from meshgate.keystore.entry import Entry, backoff_delay, describe, file_signature, refresh_delay
from meshgate.keystore.fetch import DEFAULT_MAX_BYTES, Fetcher, FetchResult, Parser
from meshgate.keystore.sources import JwksSourceLike, SourceKind, classify

log = logging.getLogger("meshgate.jwks")

DEFAULT_REFRESH_S = 300.0  # Istio's remote_jwks cache_duration (docs/istio-semantics.md §3.6)
DEFAULT_MIN_REFETCH_S = 30.0
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 300.0
FILE_POLL_S = 1.0


class KeyStore:
    """Owns every remote key set the engines in force need; readers only ever see `snapshot`."""

    def __init__(
        self,
        sources: Sequence[JwksSourceLike],
        *,
        refresh_interval_s: float = DEFAULT_REFRESH_S,
        min_refetch_interval_s: float = DEFAULT_MIN_REFETCH_S,
        ca_file: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        file_poll_interval_s: float = FILE_POLL_S,
        parse: Parser | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.refresh_interval_s = refresh_interval_s
        self.min_refetch_interval_s = min_refetch_interval_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.file_poll_interval_s = file_poll_interval_s
        self._clock = clock
        self._rng = rng or random.Random()
        self._fetcher = Fetcher(ca_file=ca_file, max_bytes=max_bytes, parse=parse)
        self._entries: dict[str, Entry] = {}
        self._snapshot: KeySnapshot = EMPTY_KEYS
        self._started = False
        self._add(sources)

    @property
    def snapshot(self) -> KeySnapshot:
        return self._snapshot

    @property
    def uris(self) -> tuple[str, ...]:
        return tuple(self._entries)

    @property
    def first_attempts_done(self) -> bool:
        return all(e.first_done.is_set() for e in self._entries.values())

    async def start(self) -> None:
        """Launch the first fetches and the refresh loops; returns at once."""
        self._started = True
        for entry in self._entries.values():
            self._launch(entry)

    async def wait_first_attempts(self, timeout_s: float | None = None) -> bool:
        """Wait until every source had its first attempt; False if `timeout_s` passed first."""
        waits = [e.first_done.wait() for e in self._entries.values()]
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*waits)
        except TimeoutError:
            return False
        return True

    async def refetch(self, uri: str) -> bool:
        """Unknown-kid refetch: joins a fetch in flight, else fetches at most once per interval."""
        entry = self._entries.get(uri)
        if entry is None:
            return False
        if entry.inflight is not None:
            return await asyncio.shield(entry.inflight)
        now = self._clock()
        if entry.last_refetch_at is not None and now - entry.last_refetch_at < self.min_refetch_interval_s:
            return False
        entry.last_refetch_at = now
        entry.refetches += 1
        return await self._fetch_shared(entry)

    async def update_sources(self, sources: Sequence[JwksSourceLike]) -> None:
        """Keep state for URIs still in use, drop the others, fetch new ones (awaiting their first try)."""
        wanted = _by_uri(sources)
        self.discard([u for u in self._entries if u not in wanted])
        await self.add_sources(sources)

    async def add_sources(self, sources: Sequence[JwksSourceLike]) -> None:
        """Add sources without dropping any (reload: old ∪ new before the swap); awaits new first tries."""
        for uri, timeout_s in _by_uri(sources).items():
            if uri in self._entries:
                self._entries[uri].timeout_s = timeout_s
        new = self._add(sources)
        if self._started:
            for entry in new:
                self._launch(entry)
            await asyncio.gather(*(e.first_done.wait() for e in new))

    def discard(self, uris: Iterable[str]) -> None:
        """Forget these URIs (their keys leave the snapshot); a fetch in flight still completes."""
        for uri in uris:
            entry = self._entries.pop(uri, None)
            if entry is not None:
                self._drop(entry)
        self._publish()

    def state(self) -> list[dict[str, Any]]:
        """Per-URI status for /config_dump and metrics."""
        now = self._clock()
        return [describe(uri, e, now) for uri, e in self._entries.items()]

    async def close(self) -> None:
        for entry in self._entries.values():
            self._drop(entry, cancel_inflight=True)
        tasks = [t for e in self._entries.values() for t in (e.loop_task, e.inflight) if t is not None]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._fetcher.close()

    # -- internals ---------------------------------------------------------------------------------

    def _add(self, sources: Iterable[JwksSourceLike]) -> list[Entry]:
        new: list[Entry] = []
        for uri, timeout_s in _by_uri(sources).items():
            if uri not in self._entries:
                self._entries[uri] = entry = Entry(classify(uri), timeout_s)
                new.append(entry)
        return new

    def _launch(self, entry: Entry) -> None:
        if entry.loop_task is None:
            entry.loop_task = asyncio.create_task(self._run(entry), name=f"jwks {entry.spec.uri}")

    def _drop(self, entry: Entry, *, cancel_inflight: bool = False) -> None:
        """Stop the refresh loop; a fetch in flight finishes unless closing (requests may await it)."""
        for task in (entry.loop_task, entry.inflight if cancel_inflight else None):
            if task is not None:
                task.cancel()

    async def _run(self, entry: Entry) -> None:
        if entry.spec.kind is SourceKind.FILE:
            await self._poll_file(entry)
            return
        while True:
            await self._fetch_shared(entry)
            await asyncio.sleep(entry.next_delay_s or self.refresh_interval_s)

    async def _poll_file(self, entry: Entry) -> None:
        while True:
            signature = file_signature(entry.spec.path)
            if signature != entry.file_signature or not entry.first_done.is_set():
                await self._fetch_shared(entry)
            await asyncio.sleep(self.file_poll_interval_s)

    async def _fetch_shared(self, entry: Entry) -> bool:
        """Single flight: every caller awaits the same fetch; a cancelled caller does not cancel it."""
        if entry.inflight is None:
            task = asyncio.create_task(self._attempt(entry))
            entry.inflight = task
            task.add_done_callback(lambda t: _clear_inflight(entry, t))
        return await asyncio.shield(entry.inflight)

    async def _attempt(self, entry: Entry) -> bool:
        if entry.spec.kind is SourceKind.FILE:
            entry.file_signature = file_signature(entry.spec.path)
        try:
            result = await self._fetcher.fetch(entry.spec, entry.timeout_s)
        except Exception as exc:  # a parser bug must not stop the refresh loop
            log.exception("jwks %s: unexpected error", entry.spec.uri)
            result = FetchResult(None, f"internal error: {type(exc).__name__}: {exc}")
        changed = self._record(entry, result)
        entry.first_done.set()
        return changed

    def _record(self, entry: Entry, result: FetchResult) -> bool:
        now = self._clock()
        if result.keyset is None:
            entry.failures += 1
            entry.failures_in_row += 1
            entry.last_error, entry.last_error_at = result.error, now
            entry.next_delay_s = backoff_delay(
                entry.failures_in_row, self.backoff_base_s, self.backoff_max_s, self._rng
            )
            log.warning("jwks %s: fetch failed: %s", entry.spec.uri, result.error)
            return False
        entry.successes += 1
        entry.failures_in_row = 0
        entry.fetched_at = now
        entry.next_delay_s = refresh_delay(result.max_age_s, self.refresh_interval_s)
        if result.digest == entry.digest:
            return False
        entry.keyset, entry.digest = result.keyset, result.digest
        if entry.spec.uri in self._entries:
            self._publish()
        log.info("jwks %s: new key set, kids %s", entry.spec.uri, list(result.keyset.kids))
        return True

    def _publish(self) -> None:
        """Replace (never mutate) the snapshot the engine reads."""
        keys = {uri: e.keyset for uri, e in self._entries.items() if e.keyset is not None}
        self._snapshot = MappingProxyType(keys)


def _by_uri(sources: Iterable[JwksSourceLike]) -> dict[str, float]:
    """One entry per URI; rules sharing a URI share its fetch with the longest timeout."""
    out: dict[str, float] = {}
    for s in sources:
        out[s.uri] = max(out.get(s.uri, 0.0), s.timeout_s)
    return out


def _clear_inflight(entry: Entry, task: asyncio.Task[bool]) -> None:
    if entry.inflight is task:
        entry.inflight = None
