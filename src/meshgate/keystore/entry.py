"""One jwksUri's bookkeeping in the key store, and when it is fetched next.

Refresh after the document's `Cache-Control: max-age` clamped to [30 s, 24 h], else the configured interval;
after a failure, exponential backoff with jitter. `describe` is what /config_dump, the metrics and the
admin page read of an entry.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field
from typing import Any

from meshgate.jose.keys import KeySet
from meshgate.keystore.sources import SourceSpec

MIN_MAX_AGE_S = 30.0
MAX_MAX_AGE_S = 24 * 3600.0

FileSignature = tuple[int, int, int] | None  # (mtime_ns, size, inode); None = cannot stat


@dataclass(eq=False)
class Entry:
    """Mutable bookkeeping of one URI; only the published snapshot is shared with readers."""

    spec: SourceSpec
    timeout_s: float
    keyset: KeySet | None = None
    digest: str = ""
    fetched_at: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    successes: int = 0
    failures: int = 0
    failures_in_row: int = 0
    refetches: int = 0
    next_delay_s: float | None = None
    last_refetch_at: float | None = None
    file_signature: FileSignature = None
    inflight: asyncio.Task[bool] | None = None
    loop_task: asyncio.Task[None] | None = None
    first_done: asyncio.Event = field(default_factory=asyncio.Event)


def refresh_delay(max_age_s: float | None, default_s: float) -> float:
    """Refresh after max-age clamped to [30 s, 24 h], or after the configured interval."""
    if max_age_s is None:
        return default_s
    return min(max(max_age_s, MIN_MAX_AGE_S), MAX_MAX_AGE_S)


def backoff_delay(failures_in_row: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """`base * 2^(n-1)` capped at `max_s`, with ±20 % jitter so workers do not retry in lockstep."""
    raw = min(max_s, base_s * 2.0 ** min(64, max(0, failures_in_row - 1)))
    return min(max_s, raw * rng.uniform(0.8, 1.2))


def file_signature(path: str) -> FileSignature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def describe(uri: str, e: Entry, now: float) -> dict[str, Any]:
    return {
        "uri": uri,
        "kind": e.spec.kind.value,
        "timeout_s": e.timeout_s,
        "first_attempt_done": e.first_done.is_set(),
        "age_s": None if e.fetched_at is None else round(now - e.fetched_at, 3),
        "kids": list(e.keyset.kids) if e.keyset else [],
        "key_count": len(e.keyset.keys) if e.keyset else 0,
        "last_error": e.last_error or None,
        "last_error_age_s": None if e.last_error_at is None else round(now - e.last_error_at, 3),
        "failures_in_row": e.failures_in_row,
        "next_refresh_s": e.next_delay_s,
        "fetches": {"success": e.successes, "failure": e.failures, "refetch": e.refetches},
    }
