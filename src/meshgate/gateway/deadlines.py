"""Route timeouts for in-flight exchanges: one repeating sweep instead of a timer per request.

Every exchange waits the same `timeout_s`, so arming order is deadline order: an insertion-ordered dict
is the whole priority queue (arm and disarm are O(1), the sweep stops at the first deadline still ahead).
A timeout fires between `timeout_s` and `timeout_s + tick_s` after arming; the tick is a twentieth of the
timeout, clamped to 10–100 ms (Envoy's 15 s default fires within 100 ms of it).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

MIN_TICK_S = 0.01
MAX_TICK_S = 0.1


class Expirable(Protocol):
    def expire(self) -> None: ...


class DeadlineSweep:
    """Arm on request end, disarm on response end; `expire()` is called on what is still armed at its deadline."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.tick_s = min(MAX_TICK_S, max(MIN_TICK_S, timeout_s / 20))
        self.armed: dict[Expirable, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, item: Expirable) -> None:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        self.armed[item] = loop.time() + self.timeout_s
        if self._handle is None:
            self._handle = loop.call_later(self.tick_s, self._sweep)

    def disarm(self, item: Expirable) -> None:
        self.armed.pop(item, None)

    def _sweep(self) -> None:
        self._handle = None
        assert self._loop is not None
        now = self._loop.time()
        expired = []
        for item, deadline in self.armed.items():
            if deadline > now:
                break
            expired.append(item)
        for item in expired:
            del self.armed[item]
        if self.armed:
            self._handle = self._loop.call_later(self.tick_s, self._sweep)
        for item in expired:
            item.expire()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.armed.clear()


class OneTimer:
    """A route timeout of its own, for the request that brings one (gRPC's `grpc-timeout`): the same
    arm / disarm as DeadlineSweep, one timer."""

    __slots__ = ("handle", "timeout_s")

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.handle: asyncio.TimerHandle | None = None

    def arm(self, item: Expirable) -> None:
        self.disarm(item)
        self.handle = asyncio.get_running_loop().call_later(self.timeout_s, item.expire)

    def disarm(self, item: Expirable) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def header(self) -> tuple[str, str]:
        """What Envoy's router tells the upstream (router.cc setTimeoutHeaders)."""
        return ("x-envoy-expected-rq-timeout-ms", str(int(self.timeout_s * 1000)))
