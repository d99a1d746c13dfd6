"""The key store over real loopback sockets: first fetch, refresh, backoff, last good keys, refetch, reload.

Cache duration 300 s as Istio sets it (docs/istio-semantics.md §3.6).
Intervals are injected short; the refetch rate limit uses an injected clock.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.jwks_server import ISTIO_JWKS, ISTIO_KID, JwksServer, ec_jwks

from meshgate.keystore.entry import backoff_delay, refresh_delay
from meshgate.keystore.store import KeyStore


@dataclass(frozen=True)
class Src:
    uri: str
    timeout_s: float = 0.5


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fast_store(*uris: str, clock: FakeClock | None = None, **kw: float) -> KeyStore:
    opts: dict[str, float] = {"backoff_base_s": 0.02, "backoff_max_s": 0.1, "file_poll_interval_s": 0.02}
    opts.update(kw)
    return KeyStore([Src(u) for u in uris], clock=clock or FakeClock(), rng=random.Random(1), **opts)  # type: ignore[arg-type]


async def until(cond: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.01)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_first_fetch_publishes_the_keys_and_marks_the_first_attempt() -> None:
    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        store = fast_store(server.url())
        assert not store.first_attempts_done and server.url() not in store.snapshot
        await store.start()
        assert await store.wait_first_attempts(5)
        assert store.snapshot[server.url()].kids == (ISTIO_KID,)
        [state] = store.state()
        assert state["kids"] == [ISTIO_KID] and state["fetches"]["success"] == 1
        assert state["last_error"] is None
        await store.close()
        await server.stop()

    run(scenario)


def test_server_down_at_start_then_recovers_with_backoff() -> None:
    async def scenario() -> None:
        server = JwksServer()
        store = fast_store(server.url())
        await store.start()
        assert await store.wait_first_attempts(5)
        # Before any success the URI is absent: the engine answers `Jwks remote fetch is failed`.
        assert server.url() not in store.snapshot
        assert "ClientConnectorError" in store.state()[0]["last_error"]
        await server.start()
        await until(lambda: server.url() in store.snapshot)
        assert store.snapshot[server.url()].kids == (ISTIO_KID,)
        assert store.state()[0]["failures_in_row"] == 0
        await store.close()
        await server.stop()

    run(scenario)


@pytest.mark.parametrize(
    "break_it",
    ["server-killed", "404", "garbage", "slow"],
)
def test_later_failures_keep_the_last_good_keys(break_it: str) -> None:
    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        store = fast_store(server.url(), refresh_interval_s=0.02)
        await store.start()
        await until(lambda: server.url() in store.snapshot)
        good = store.snapshot
        if break_it == "server-killed":
            await server.stop()
        elif break_it == "404":
            server.status = 404
        elif break_it == "garbage":
            server.document = "{not json"
        else:
            server.delay_s = 2.0  # beyond the 0.5 s rule timeout
        await until(lambda: store.state()[0]["failures_in_row"] >= 2, timeout_s=8)
        assert store.snapshot is good and store.snapshot[server.url()].kids == (ISTIO_KID,)
        await store.close()
        await server.stop()

    run(scenario)


def test_rotation_refetch_publishes_once_then_is_rate_limited() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        server = JwksServer()
        await server.start()
        store = fast_store(server.url(), clock=clock, min_refetch_interval_s=30)
        await store.start()
        await store.wait_first_attempts(5)
        before, hits = store.snapshot, server.hits
        server.document = ec_jwks("rotated-kid")
        assert await store.refetch(server.url()) is True
        assert store.snapshot[server.url()].kids == ("rotated-kid",)
        assert before[server.url()].kids == (ISTIO_KID,)  # old snapshot never mutated
        assert server.hits == hits + 1
        clock.now += 29
        assert await store.refetch(server.url()) is False  # within the interval: no-op
        assert server.hits == hits + 1
        clock.now += 2
        assert await store.refetch(server.url()) is False  # fetched again, but nothing new
        assert server.hits == hits + 2
        assert store.state()[0]["fetches"]["refetch"] == 2
        assert await store.refetch("http://unknown.example/jwks") is False
        await store.close()
        await server.stop()

    run(scenario)


def test_concurrent_refetches_are_single_flight() -> None:
    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        store = fast_store(server.url())
        await store.start()
        await store.wait_first_attempts(5)
        server.document, server.delay_s, hits = ec_jwks("new"), 0.2, server.hits
        results = await asyncio.gather(*(store.refetch(server.url()) for _ in range(5)))
        assert results == [True] * 5 and server.hits == hits + 1
        await store.close()
        await server.stop()

    run(scenario)


@pytest.mark.parametrize(
    ("cache_control", "next_refresh_s"),
    [
        (None, 7.0),  # no header: the configured refresh interval (Istio's 300 s by default)
        ("max-age=120", 120.0),
        ("public, max-age=5", 30.0),  # clamped up to 30 s
        ("max-age=999999", 86400.0),  # clamped down to 24 h
    ],
)
def test_max_age_sets_the_next_refresh(cache_control: str | None, next_refresh_s: float) -> None:
    async def scenario() -> None:
        server = JwksServer()
        if cache_control:
            server.headers["Cache-Control"] = cache_control
        await server.start()
        store = fast_store(server.url(), refresh_interval_s=7.0)
        await store.start()
        await store.wait_first_attempts(5)
        assert store.state()[0]["next_refresh_s"] == next_refresh_s
        await store.close()
        await server.stop()

    run(scenario)


def test_refresh_picks_up_new_keys_periodically() -> None:
    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        store = fast_store(server.url(), refresh_interval_s=0.05)
        await store.start()
        await store.wait_first_attempts(5)
        server.document = ec_jwks("periodic")
        await until(lambda: store.snapshot[server.url()].kids == ("periodic",))
        await store.close()
        await server.stop()

    run(scenario)


def test_file_source_mtime_change_means_new_keys(tmp_path: Path) -> None:
    async def scenario() -> None:
        path = tmp_path / "jwks.json"
        path.write_text(ISTIO_JWKS)
        store = fast_store(path.as_uri())
        await store.start()
        await store.wait_first_attempts(5)
        assert store.snapshot[path.as_uri()].kids == (ISTIO_KID,)
        path.write_text(ec_jwks("from-file"))
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        await until(lambda: store.snapshot[path.as_uri()].kids == ("from-file",))
        await store.close()

    run(scenario)


def test_missing_file_then_created(tmp_path: Path) -> None:
    async def scenario() -> None:
        path = tmp_path / "later.json"
        store = fast_store(path.as_uri())
        await store.start()
        await store.wait_first_attempts(5)
        assert path.as_uri() not in store.snapshot and store.first_attempts_done
        path.write_text(ISTIO_JWKS)
        await until(lambda: path.as_uri() in store.snapshot)
        await store.close()

    run(scenario)


def test_update_sources_keeps_drops_and_adds() -> None:
    async def scenario() -> None:
        a, b = JwksServer(), JwksServer(document=ec_jwks("b-kid"))
        await a.start()
        await b.start()
        store = fast_store(a.url())
        await store.start()
        await store.wait_first_attempts(5)
        hits_a = a.hits
        await store.update_sources([Src(a.url()), Src(b.url())])
        assert store.snapshot[b.url()].kids == ("b-kid",)  # awaited the new source's first attempt
        assert a.hits == hits_a  # existing state kept, not refetched
        await store.update_sources([Src(b.url())])
        assert set(store.snapshot) == {b.url()} and store.uris == (b.url(),)
        await store.close()
        await a.stop()
        await b.stop()

    run(scenario)


def test_unsupported_uri_fails_but_counts_as_attempted() -> None:
    async def scenario() -> None:
        store = fast_store("ftp://example.com/jwks")
        await store.start()
        assert await store.wait_first_attempts(5)
        assert store.snapshot == {} and store.state()[0]["last_error"] == "unsupported scheme 'ftp'"
        await store.close()

    run(scenario)


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 0.8, 1.2), (2, 1.6, 2.4), (5, 12.8, 19.2), (9, 204.8, 300.0), (30, 240.0, 300.0)],
)
def test_backoff_doubles_from_1s_to_5min_with_jitter(failures: int, low: float, high: float) -> None:
    rng = random.Random(7)
    delays = [backoff_delay(failures, 1.0, 300.0, rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays) and len(set(delays)) > 1


@pytest.mark.parametrize(
    ("max_age", "default", "expected"),
    [
        (None, 300.0, 300.0),
        (0.0, 300.0, 30.0),
        (29.0, 300.0, 30.0),
        (600.0, 300.0, 600.0),
        (1e9, 1.0, 86400.0),
    ],
)
def test_refresh_delay(max_age: float | None, default: float, expected: float) -> None:
    assert refresh_delay(max_age, default) == expected


def test_dropping_a_source_does_not_cancel_a_request_awaiting_its_refetch() -> None:
    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        store = fast_store(server.url())
        await store.start()
        await store.wait_first_attempts(5)
        server.document, server.delay_s = ec_jwks("late"), 0.2
        waiting = asyncio.create_task(store.refetch(server.url()))
        await asyncio.sleep(0.05)
        await store.update_sources([])  # a reload removed the URI meanwhile
        assert await waiting is True and store.snapshot == {}
        await store.close()
        await server.stop()

    run(scenario)
