"""A bounded load soak on loopback: a live `meshgate serve` in front of a healthy upstream, fed a mix of
valid, invalid, tokenless and attack requests from a few client threads for `MESHGATE_SOAK_SECONDS`
(default 60, so `make test` runs the real minute).

Asserts: no 5xx at all (the upstream never fails, so any 5xx is meshgate's own), every valid request
answered 200, every attack answered as in tests/security/test_attacks_http.py, no traceback in the
gateway's log, and its RSS flat: at the end at most 10 % above the RSS after the warm-up (from /proc).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from tests.gateway.conftest import DEMO_JWT, RawClient, ServeProcess, get, rss_kib
from tests.security.conftest import RawUpstream, exchange
from tests.security.test_attacks_http import ATTACKS, FORWARDED

SOAK_S = float(os.environ.get("MESHGATE_SOAK_SECONDS", "60"))
WARMUP_S = 10.0  # caches and allocator arenas fill in the first seconds (RSS plateaus after ~3-5 s here)
CLIENTS = 4
RSS_GROWTH_LIMIT = 1.10
BAD_TOKENS = ["abc.def", DEMO_JWT[:-4] + "AAAA", "a.b.c", DEMO_JWT.replace(".", "..", 1)]
REFUSED = [a for a in ATTACKS if a.answer != FORWARDED]  # smuggling, oversized heads, bad framing ...
BODY = b"p" * 2048

# (kind, weight): keep-alive kinds run on the thread's long-lived connection, the others on a new one
KEEP_ALIVE = [
    ("valid-get", 6),
    ("valid-post", 2),
    ("valid-chunked", 1),
    ("invalid-token", 2),
    ("no-token", 2),
]
ONE_SHOT = [("attack", 2), ("bad-path", 1)]
KINDS = [k for k, _ in KEEP_ALIVE + ONE_SHOT]
WEIGHTS = [w for _, w in KEEP_ALIVE + ONE_SHOT]
EXPECTED = {"valid-get": 200, "valid-post": 200, "valid-chunked": 200, "invalid-token": 401, "no-token": 403}


@dataclass
class Tally:
    """What the clients saw, shared by the threads (Counter updates are atomic enough under the GIL)."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(what)


def keep_alive_request(kind: str, n: int, rng: random.Random) -> bytes:
    auth = f"Authorization: Bearer {DEMO_JWT}\r\n"
    if kind == "valid-get":
        return get(f"/soak/{n}?q={n}", token=DEMO_JWT)
    if kind == "valid-post":
        head = f"POST /soak/post HTTP/1.1\r\nHost: ex.com\r\n{auth}Content-Length: {len(BODY)}\r\n\r\n"
        return head.encode() + BODY
    if kind == "valid-chunked":
        head = f"POST /soak/chunked HTTP/1.1\r\nHost: ex.com\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
        return head.encode() + b"800\r\n" + BODY + b"\r\n0\r\n\r\n"
    if kind == "invalid-token":
        return get("/soak/bad", token=rng.choice(BAD_TOKENS))
    return get("/soak/anonymous")


def one_shot(port: int, kind: str, rng: random.Random, tally: Tally) -> None:
    if kind == "attack":
        attack = rng.choice(REFUSED)
        request, expected = attack.request, int(attack.answer[9:12])
    else:  # a path Envoy's normalization refuses (docs/istio-semantics.md §7: %00 → 400)
        request, expected = get("/soak/a%00b", token=DEMO_JWT), 400
    out = exchange(port, request, wait=10)
    status = out.statuses[0] if out.statuses else 0
    tally.statuses[(kind, status)] += 1
    if status != expected or not out.closed:
        tally.fail(f"{kind}: {status} closed={out.closed} for {request[:60]!r}")


def client(port: int, deadline: float, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    conn = RawClient(port)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind not in EXPECTED:
            one_shot(port, kind, rng, tally)
            continue
        try:
            status = conn.request(keep_alive_request(kind, n, rng)).status
        except (OSError, ConnectionError) as exc:
            tally.statuses[(kind, 0)] += 1
            tally.fail(f"{kind}: {exc!r}")
            conn.close()
            conn = RawClient(port)
            continue
        tally.statuses[(kind, status)] += 1
        if status != EXPECTED[kind]:
            tally.fail(f"{kind}: {status}")
    conn.close()


@pytest.mark.e2e
@pytest.mark.timeout(SOAK_S + WARMUP_S + 90)
def test_soak(live_gateway: ServeProcess, raw_upstream: RawUpstream) -> None:
    tally = Tally()
    deadline = time.monotonic() + WARMUP_S + SOAK_S
    threads = [
        threading.Thread(target=client, args=(live_gateway.port, deadline, seed, tally), daemon=True)
        for seed in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    baseline = end = 0
    while time.monotonic() < deadline:
        time.sleep(0.5)
        del live_gateway.stdout[1:]  # the access log and the upstream's record: dropped, so the test
        raw_upstream.clear()  # process stays small
        left = deadline - time.monotonic()
        if not baseline and left <= SOAK_S:
            baseline = rss_kib(live_gateway.proc.pid)  # after the warm-up
        if left > 0.5:
            end = rss_kib(live_gateway.proc.pid)  # under load, shortly before the clients stop
    for thread in threads:
        thread.join(30)
    served = {kind: sum(n for (k, s), n in tally.statuses.items() if k == kind) for kind in KINDS}
    # 501 is the expected answer to an unsupported transfer coding (Envoy's too), not a server error
    server_errors = {key: n for key, n in tally.statuses.items() if key[1] >= 500 and key != ("attack", 501)}
    assert server_errors == {}, tally.statuses
    assert tally.failures == [], tally.failures
    assert all(served[kind] > 0 for kind in KINDS), served
    assert tally.statuses[("valid-get", 200)] == served["valid-get"]
    assert b"Traceback" not in b"".join(live_gateway.stderr)
    print(f"soak: {sum(tally.statuses.values())} requests, RSS {baseline} → {end} KiB")
    assert end <= baseline * RSS_GROWTH_LIMIT, f"RSS {baseline} KiB after warm-up, {end} KiB at the end"
