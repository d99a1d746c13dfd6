"""The verified-token cache: bounded LRU with validity windows."""

from __future__ import annotations

import math

import pytest

from meshgate.authn.memo import WindowedLru


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "now", "hit"),
    [
        (0.0, 100.0, 0.0, True),
        (0.0, 100.0, 99.9, True),
        (0.0, 100.0, 100.0, False),  # half-open: exp + skew + 1 is already expired
        (10.0, 100.0, 9.0, False),
        (-math.inf, math.inf, 1e12, True),
    ],
)
def test_window(valid_from: float, valid_until: float, now: float, hit: bool) -> None:
    cache: WindowedLru[str] = WindowedLru(4)
    cache.put("k", "v", valid_from, valid_until)
    assert (cache.get("k", now) == "v") is hit


def test_expired_entry_is_dropped() -> None:
    cache: WindowedLru[str] = WindowedLru(4)
    cache.put("k", "v", 0, 10)
    assert cache.get("k", 20) is None and len(cache) == 0


def test_lru_eviction_keeps_recent() -> None:
    cache: WindowedLru[int] = WindowedLru(2)
    cache.put("a", 1, 0, 10)
    cache.put("b", 2, 0, 10)
    assert cache.get("a", 1) == 1  # a is now the most recent
    cache.put("c", 3, 0, 10)
    assert (cache.get("a", 1), cache.get("b", 1), cache.get("c", 1)) == (1, None, 3)


def test_zero_size_and_empty_window_store_nothing() -> None:
    off: WindowedLru[int] = WindowedLru(0)
    off.put("a", 1, 0, 10)
    assert off.get("a", 1) is None
    cache: WindowedLru[int] = WindowedLru(4)
    cache.put("a", 1, 10, 10)
    assert len(cache) == 0
