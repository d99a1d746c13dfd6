"""A bounded LRU of verification outcomes, each valid inside a time window.

Envoy's own JWT cache is off under Istio (jwt_cache_config never set, docs/istio-semantics.md §3.6), so this
cache must never change an answer: callers key entries by everything the outcome depends on (the exact
token strings, the provider, the KeySet objects used) and give the window of `now` in which it holds
(nbf/exp with the clock skew). Entries keep their KeySet objects alive, so `id()`s in keys stay unique.
A hit is one dict lookup and two comparisons.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class WindowedLru(Generic[V]):
    """LRU map: key → (value, valid_from, valid_until, pin); valid for valid_from ≤ now < valid_until."""

    __slots__ = ("_entries", "_max", "hits", "misses")

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[Hashable, tuple[V, float, float, object]] = OrderedDict()
        self._max = max(0, max_entries)
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, now: float) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if not entry[1] <= now < entry[2]:
            del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def put(self, key: Hashable, value: V, valid_from: float, valid_until: float, pin: object = None) -> None:
        if self._max == 0 or valid_from >= valid_until:
            return
        self._entries[key] = (value, valid_from, valid_until, pin)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop_where(self, doomed: Callable[[Hashable], bool]) -> int:
        """Remove every entry whose key `doomed` says; how many were removed."""
        keys = [key for key in self._entries if doomed(key)]
        for key in keys:
            del self._entries[key]
        return len(keys)

    def clear(self) -> None:
        self._entries.clear()
