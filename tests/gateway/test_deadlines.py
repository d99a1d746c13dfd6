"""DeadlineSweep (gateway/deadlines.py) on a real event loop: expiry within one tick, disarm, idle when empty.

Timing bounds are loose on the late side (a loaded CI box delays callbacks) and exact on the early side:
a route timeout must never fire before its deadline.
"""

from __future__ import annotations

import asyncio

from meshgate.gateway.deadlines import MAX_TICK_S, MIN_TICK_S, DeadlineSweep


class Waiter:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.expired_at: float | None = None

    def expire(self) -> None:
        self.expired_at = self.loop.time()


def test_tick_is_a_twentieth_of_the_timeout_clamped() -> None:
    assert DeadlineSweep(15.0).tick_s == MAX_TICK_S
    assert DeadlineSweep(0.5).tick_s == 0.025
    assert DeadlineSweep(0.05).tick_s == MIN_TICK_S


def test_armed_items_expire_after_their_deadline_and_disarmed_ones_never() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        sweep = DeadlineSweep(0.2)
        first, second, disarmed = Waiter(loop), Waiter(loop), Waiter(loop)
        armed_at = loop.time()
        sweep.arm(first)
        sweep.arm(disarmed)
        await asyncio.sleep(0.1)
        second_armed_at = loop.time()
        sweep.arm(second)
        sweep.disarm(disarmed)
        await asyncio.sleep(0.45)
        assert first.expired_at is not None and second.expired_at is not None
        assert 0.2 <= first.expired_at - armed_at < 0.2 + sweep.tick_s + 0.15
        assert 0.2 <= second.expired_at - second_armed_at < 0.2 + sweep.tick_s + 0.15
        assert disarmed.expired_at is None
        assert not sweep.armed and sweep._handle is None  # nothing armed: no timer keeps running

    asyncio.run(scenario())


def test_item_disarmed_before_the_sweep_and_close() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        sweep = DeadlineSweep(0.05)
        done = Waiter(loop)
        sweep.arm(done)
        sweep.disarm(done)
        sweep.disarm(done)  # twice is harmless (response end after a timeout already fired)
        pending = Waiter(loop)
        sweep.arm(pending)
        sweep.close()
        await asyncio.sleep(0.15)
        assert done.expired_at is None and pending.expired_at is None

    asyncio.run(scenario())
