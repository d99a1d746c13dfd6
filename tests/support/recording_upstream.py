"""A recording HTTP/1.1 upstream on loopback: what a proxy forwarded, byte for byte.

Parity tests put a real Envoy and meshgate in front of the same `RecordingUpstream` and compare what each
forwarded: the request-target exactly as sent (no decoding, no normalization) and every header line in
order, duplicates kept. It parses with httptools (llhttp) on its own asyncio loop in a daemon thread and
answers every request `200` with a JSON body naming the target, so the client side can tell it apart from a
proxy's local reply.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field

import httptools


@dataclass(frozen=True)
class Received:
    """One request as the upstream received it. Header names keep the case they arrived in."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> list[str]:
        """Every value of header `name` (case-insensitive), in arrival order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


class _Connection(asyncio.Protocol):
    def __init__(self, owner: RecordingUpstream) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", [], b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("ascii")
        target = self.url.decode("latin-1")
        self.owner.received.append(Received(method, target, tuple(self.headers), self.body))
        if self.transport is None:
            return
        body = json.dumps({"upstream": True, "target": target}).encode()
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
        self.transport.write(head + body)


@dataclass
class RecordingUpstream:
    """Start with `start()`; `received` lists every complete request in arrival order."""

    received: list[Received] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.AbstractServer | None = None

    def start(self) -> RecordingUpstream:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="recording-upstream", daemon=True)
        self._thread.start()

        async def listen() -> asyncio.AbstractServer:
            loop = asyncio.get_running_loop()
            return await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def last(self) -> Received | None:
        return self.received[-1] if self.received else None
