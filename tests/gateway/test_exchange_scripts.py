"""Exchange scripts over in-memory transports: every chunk is parsed, every request answered.

Each case drives a real GatewayProtocol and UpstreamConnection (engine and renderings real; only the two
transports are in-memory) through a script of downstream chunks and upstream replies. The gateway keeps
nothing from one message to the next (docs/performance.md), so every chunk reaches its parser exactly
once — a repeated request or response included — and each request gets its own answer and x-request-id.
Over real sockets: a client repeating its request on one connection gets the same answers and the
upstream a distinct x-request-id each time.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

import pytest
from tests.gateway.conftest import DEMO_JWT, RawClient, write_policy
from tests.support.servers import Upstream

from meshgate.config.model import Workload
from meshgate.engine.options import EngineOptions
from meshgate.gateway.context import GatewayContext
from meshgate.gateway.http1.protocol import GatewayProtocol
from meshgate.gateway.http1.upstream import UpstreamConnection, UpstreamPool, UpstreamTarget
from meshgate.keystore.store import KeyStore
from meshgate.server.access_log import AccessLog
from meshgate.server.metrics import Metrics
from meshgate.server.reload import load_and_build
from meshgate.server.state import ServingState


def _get(token: str = DEMO_JWT, extra: bytes = b"") -> bytes:
    return b"GET /p HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer %s\r\n%b\r\n" % (token.encode(), extra)


OK = b"HTTP/1.1 200 OK\r\nServer: up\r\nDate: Sun, 29 Nov 2026 09:05:00 GMT\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED_ONE = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
CHUNKED_TWO = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nServer: up\r\n\r\n"
INTERIM = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
BIG_HEADER = b"X-Big: " + b"a" * 9000 + b"\r\n"
POST = (
    b"POST /p HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer %s\r\nContent-Length: 3\r\n\r\nabc"
    % DEMO_JWT.encode()
)

# (name, script, responses the client gets). A script step is ("down", chunk): the client sends it, or
# ("up", chunk): the upstream connection receives it.
CASES: list[tuple[str, list[tuple[str, bytes]], int]] = [
    ("repeated request and response", [("down", _get()), ("up", OK)] * 4, 4),
    ("repeated while the previous one waits", [("down", _get()), ("down", _get()), ("up", OK), ("up", OK)] * 2, 4),
    ("repeated chunked response, one body part", [("down", _get()), ("up", CHUNKED_ONE)] * 3, 3),
    ("repeated 204", [("down", _get()), ("up", NO_CONTENT)] * 3, 3),
    ("chunked response, two body parts", [("down", _get()), ("up", CHUNKED_TWO)] * 3, 3),
    ("interim response before the final one", [("down", _get()), ("up", INTERIM)] * 3, 3),
    ("request with a body", [("down", POST), ("up", OK)] * 3, 3),
    ("two pipelined requests per chunk", [("down", _get() * 2), ("up", OK), ("up", OK)] * 3, 6),
    ("request split over two chunks", [("down", _get()[:20]), ("down", _get()[20:]), ("up", OK)] * 3, 3),
    ("expect 100-continue", [("down", _get(extra=b"Expect: 100-continue\r\n")), ("up", OK)] * 3, 6),
    ("a different request in between", [("down", _get()), ("up", OK), ("down", _get(extra=b"X-A: 1\r\n")),
                                         ("up", OK), ("down", _get()), ("up", OK)], 3),
    ("large request head", [("down", _get(extra=BIG_HEADER)), ("up", OK)] * 3, 3),
    ("denied request repeated", [("down", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")] * 3, 3),
    ("malformed token repeated", [("down", _get("not.a.token"))] * 3, 3),
    ("HEAD request and its response", [("down", _get().replace(b"GET", b"HEAD", 1)), ("up", OK[:-5])] * 3, 3),
]  # fmt: skip


class MemoryTransport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("10.0.0.7", 5555), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.out += data

    def writelines(self, parts: list[bytes]) -> None:
        for part in parts:
            self.out += part

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    abort = close


class CountingParser:
    """The real httptools parser, counting how often it is fed."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.feeds = 0

    def feed_data(self, data: bytes) -> None:
        self.feeds += 1
        self.parser.feed_data(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parser, name)


async def _run(policy: str, script: list[tuple[str, bytes]]) -> tuple[bytes, bytes, int, int]:
    engine = load_and_build([policy], Workload(namespace="default", labels={}), EngineOptions()).engine
    state = ServingState(
        engine, KeyStore(engine.jwks_sources()), Metrics(), AccessLog(io.StringIO(), "envoy")
    )
    ctx = GatewayContext(state, UpstreamPool(UpstreamTarget.parse("http://127.0.0.1:9")))
    assert ctx.pool is not None
    up, up_transport = UpstreamConnection(ctx.pool), MemoryTransport()
    up.connection_made(up_transport)  # type: ignore[arg-type]
    ctx.pool.idle.append(up)
    down, down_transport = GatewayProtocol(ctx), MemoryTransport()
    down.connection_made(down_transport)  # type: ignore[arg-type]
    down_parser = CountingParser(down.parser)
    down.parser = down_parser  # type: ignore[assignment]
    up_parsers: list[CountingParser] = []
    for side, chunk in script:
        if side == "down":
            down.data_received(chunk)
            continue
        if not isinstance(up.parser, CountingParser):  # the first, or a new one after a HEAD response
            up_parsers.append(CountingParser(up.parser))
            up.parser = up_parsers[-1]  # type: ignore[assignment]
        up.data_received(chunk)
    ctx.deadlines.close()
    return (
        bytes(up_transport.out),
        bytes(down_transport.out),
        down_parser.feeds,
        sum(p.feeds for p in up_parsers),
    )


@pytest.mark.parametrize(("script", "answers"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_chunk_is_parsed_and_every_request_answered(
    tmp_path: Path, script: list[tuple[str, bytes]], answers: int
) -> None:
    sent_up, answered, feeds_down, feeds_up = asyncio.run(_run(write_policy(tmp_path), script))
    assert feeds_down == sum(1 for side, _ in script if side == "down")
    assert feeds_up == sum(1 for side, _ in script if side == "up")
    assert answered.count(b"HTTP/1.1 ") == answers  # interim 100s included where the client asked
    assert b"authorization" not in sent_up.lower()


def test_response_header_values_lose_their_trailing_whitespace(tmp_path: Path) -> None:
    padded = OK.replace(b"Server: up\r\n", b"Server: up\r\nX-Up: v \t\r\n")
    _, answered, _, _ = asyncio.run(_run(write_policy(tmp_path), [("down", _get()), ("up", padded)]))
    assert b"\r\nx-up: v\r\n" in answered


def test_repeated_requests_get_their_own_request_ids(tmp_path: Path) -> None:
    script = [("down", _get()), ("up", OK)] * 3
    sent_up, answered, feeds_down, feeds_up = asyncio.run(_run(write_policy(tmp_path), script))
    assert (feeds_down, feeds_up) == (3, 3)
    ids = re.findall(rb"x-request-id: ([0-9a-f-]{36})\r\n", sent_up)
    assert len(ids) == 3 and len(set(ids)) == 3
    assert answered.count(b"HTTP/1.1 200 OK\r\n") == 3 and answered.count(b"hello") == 3
    assert b"authorization" not in sent_up.lower()  # the engine's edits apply to every request


def test_repeated_requests_over_real_sockets(start_gateway: Any) -> None:
    up = Upstream().start()
    try:
        gw = start_gateway(upstream=f"http://127.0.0.1:{up.port}")
        client = RawClient(gw.port)
        try:
            answers = [client.request(_get()) for _ in range(20)]
            denied = [client.request(b"GET /p HTTP/1.1\r\nHost: h\r\n\r\n") for _ in range(3)]
        finally:
            client.close()
    finally:
        up.stop()
    assert [a.status for a in answers] == [200] * 20 and [d.status for d in denied] == [403] * 3
    assert {a.body for a in answers} == {b'{"path": "/p", "received": 0}'}
    assert len(up.seen) == 20 and all(not seen.header("authorization") for seen in up.seen)
    ids = {seen.header("x-request-id")[0] for seen in up.seen}
    assert len(ids) == 20
