"""The upstream side: a pool of keep-alive HTTP/1.1 connections, each parsing responses with httptools.

A connection serves one exchange at a time (no upstream pipelining); its parser callbacks go straight
to the exchange (`UpstreamSink`), which writes downstream — no queue, no task per response. After a
101 the connection becomes a raw byte pipe (`tunnel`). Responses to HEAD carry no body whatever their
framing says: httptools cannot be told so, so the parser is replaced once the head is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

from meshgate.errors import UsageError
from meshgate.gateway.heads import LAST_CHUNK, PLAIN_CONNECTION, chunk_parts, upstream_request_head
from meshgate.gateway.seam import UpstreamHead, UpstreamSink

log = logging.getLogger("meshgate.gateway")

MAX_IDLE_PER_POOL = 256
CONNECT_TIMEOUT_S = 10.0  # istio/api DestinationRule connectTimeout default (10 s)
NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where allowed requests go: `http(s)://host[:port]` (no path: the request-target is the client's)."""

    host: str
    port: int
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> UpstreamTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--upstream: expected http(s)://host[:port], got {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise UsageError(f"--upstream: a path is not supported, got {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UsageError(f"--upstream: {exc}") from None
        return cls(parts.hostname, port, parts.scheme == "https")

    @property
    def address(self) -> str:
        """`host:port` as Envoy's %UPSTREAM_HOST% prints it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class UpstreamConnection(asyncio.Protocol):
    """One upstream TCP (or TLS) connection; `sink` is the exchange it currently serves, if any."""

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.sink: UpstreamSink | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.has_length = self.has_chunked = False
        self.lists_names = False  # a Connection header names more than keep-alive / close
        self.head_request = False  # the exchange is a HEAD: its response has no body
        self.until_close = False  # response framed by connection close
        self.tunnel = False
        self.closed = False
        self.used = 0  # exchanges served, so a reused connection can be told from a fresh one

    # asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        if self.tunnel:
            if self.sink is not None:
                self.sink.on_tunnel_data(data)
            return
        sink = self.sink
        output = sink.output if sink is not None else None
        if output is not None:
            output.cork()  # a small response's head and body leave in one write
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            rest = data[exc.args[0] :]
            if rest and self.sink is not None and self.tunnel:
                self.sink.on_tunnel_data(rest)
        except httptools.HttpParserError as exc:
            self._fail(f"upstream protocol error: {exc}")
        finally:
            if output is not None:
                output.uncork()

    def eof_received(self) -> bool | None:
        if self.until_close and self.sink is not None and not self.tunnel:
            self.until_close = False
            sink, self.sink = self.sink, None
            sink.on_response_end(False)
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        sink, self.sink = self.sink, None
        if sink is not None:
            if self.until_close and not self.tunnel:
                sink.on_response_end(False)
            else:
                sink.on_upstream_lost(str(exc) if exc else "connection closed")

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.on_upstream_paused(True)

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.on_upstream_paused(False)

    # httptools callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.headers = []
        self.has_length = self.has_chunked = self.lists_names = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if value and value[-1] in (0x20, 0x09):  # trailing SP / HTAB: dropped, as Envoy's codec does
            value = value.rstrip(b" \t")
        self.headers.append((name, value))
        size = len(name)  # cheap pre-filter for the names framing and the downstream head depend on
        if size == 14:
            self.has_length = self.has_length or name.lower() == b"content-length"
        elif size == 17 and name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            self.has_chunked = True
        elif size == 10 and name.lower() == b"connection":
            self.lists_names = self.lists_names or value.strip().lower() not in PLAIN_CONNECTION

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        framing = self._framing(status)
        if 100 <= status < 200 and status != 101:
            return  # interim responses are not forwarded (we never forward Expect)
        self.until_close = framing == "close"
        if status == 101:
            self.tunnel = True
        sink = self.sink
        if sink is None:
            return
        sink.on_response_head(status, self.headers, framing)
        if self.head_request and not self.tunnel and self.sink is sink:
            keep = self.parser.should_keep_alive()
            self.parser = httptools.HttpResponseParser(self)  # the old one waits for a body that never comes
            self.until_close = False
            self.sink = None
            sink.on_response_end(keep)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.on_response_body(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if (100 <= status < 200 and status != 101) or self.tunnel:
            return
        keep_alive = self.parser.should_keep_alive()
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.on_response_end(keep_alive)

    # helpers ---------------------------------------------------------------------------------
    def _framing(self, status: int) -> str:
        """'none' | 'length' | 'chunked' | 'close': how this response's body is delimited."""
        if self.head_request or status in NO_BODY_STATUSES or status == 101:
            return "none"
        if self.has_chunked:
            return "chunked"
        return "length" if self.has_length else "close"

    def _fail(self, error: str) -> None:
        sink, self.sink = self.sink, None
        self.close()
        if sink is not None:
            sink.on_upstream_lost(error)

    def start(self, sink: UpstreamSink, head_request: bool) -> None:
        self.sink = sink
        self.head_request = head_request
        self.until_close = False
        self.used += 1

    def send_request(self, head: UpstreamHead, body: list[bytes], *, end: bool, chunked: bool) -> None:
        """The head and the body received so far in one write (`end`: the body is complete)."""
        assert isinstance(head, bytes)
        if not body and not (end and chunked):
            self.write(head)
            return
        parts = [head]
        for data in body:
            parts += chunk_parts(data) if chunked else (data,)
        if end and chunked:
            parts.append(LAST_CHUNK)
        self.writelines(parts)

    def send_body(self, data: bytes, *, chunked: bool) -> None:
        if chunked:
            self.writelines(chunk_parts(data))
        else:
            self.write(data)

    def send_end(self, *, chunked: bool) -> None:
        if chunked:
            self.write(LAST_CHUNK)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def writelines(self, parts: list[bytes]) -> None:
        if self.transport is not None and not self.closed:
            self.transport.writelines(parts)

    def pause_reading(self, paused: bool) -> None:
        if self.transport is None or self.closed:
            return
        with contextlib.suppress(RuntimeError):
            if paused:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def close(self) -> None:
        self.sink = None
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()
        self.pool.forget(self)


class UpstreamPool:
    """Idle keep-alive connections to one target (per worker process), most recently used first."""

    request_head = staticmethod(upstream_request_head)  # gateway/seam.py Pool: requests go as HTTP/1.1

    def __init__(self, target: UpstreamTarget, ssl_context: ssl.SSLContext | None = None) -> None:
        self.target = target
        self.ssl_context = ssl_context
        self.idle: list[UpstreamConnection] = []

    @property
    def address(self) -> str:
        return self.target.address

    def acquire(self) -> UpstreamConnection | None:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        return None

    async def connect(self) -> UpstreamConnection:
        """A fresh connection; raises OSError / TimeoutError when the upstream cannot be reached."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            _, protocol = await loop.create_connection(
                lambda: UpstreamConnection(self),
                self.target.host,
                self.target.port,
                ssl=self.ssl_context if self.target.tls else None,
                server_hostname=self.target.host if self.target.tls else None,
            )
        return protocol

    def release(self, conn: UpstreamConnection) -> None:
        """Back to the idle list once its response is complete and it may be reused."""
        conn.sink = None
        if conn.closed or conn.tunnel:
            return
        if len(self.idle) >= MAX_IDLE_PER_POOL:
            conn.close()
            return
        self.idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        if conn in self.idle:
            self.idle.remove(conn)

    def close(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()
