"""HTTP/2 upstreams (`--upstream-protocol h2`; Istio: a GRPC or HTTP2 ServiceEntry port): one `h2` client
connection per pool carrying many streams, each stream one exchange's `Upstream` (gateway/seam.py).

Responses are relayed frame by frame: HEADERS (a trailers-only answer stays trailers-only: framing 'none'),
DATA, trailers. Flow control both ways: request DATA goes out as far as the upstream's window allows (the
client's is not re-opened meanwhile: the exchange's downstream is paused); response DATA is acknowledged only
while the client side reads. A GOAWAY or a lost connection fails the streams it did not answer, and the next
request opens a new connection (as Envoy's cluster with `http2_protocol_options`, istiod's choice for GRPC /
HTTP2 ports: istio/istio:pilot/pkg/networking/core/cluster_builder.go).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from typing import Any, cast

from h2 import events as ev
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.exceptions import H2Error
from h2.settings import SettingCodes

from meshgate.gateway.h2 import hpack_decoder
from meshgate.gateway.h2.heads import h2_request_head
from meshgate.gateway.h2.limits import next_piece
from meshgate.gateway.http1.upstream import CONNECT_TIMEOUT_S, UpstreamTarget
from meshgate.gateway.seam import UpstreamHead, UpstreamSink

RESPONSE_WINDOW = 16 * 1024 * 1024  # per stream, as Envoy's upstream codec (Http2::Utility::OptionsLimits)


class H2Stream:
    """One request on an upstream HTTP/2 connection."""

    used = 1  # never retried on a fresh connection: the exchange answers 503 as for a first connection
    lists_names = False

    def __init__(self, conn: H2UpstreamConnection) -> None:
        self.conn = conn
        self.sid = 0
        self.sink: UpstreamSink | None = None
        self.head_request = False
        self.outbox: deque[bytes] = deque()
        self.end_pending = False
        self.paused = False
        self.unacked = 0
        self.closed = False

    def start(self, sink: UpstreamSink, head_request: bool) -> None:
        self.sink, self.head_request = sink, head_request

    def send_request(self, head: UpstreamHead, body: list[bytes], *, end: bool, chunked: bool) -> None:
        assert isinstance(head, list)
        h2 = self.conn.h2
        try:
            self.sid = h2.get_next_available_stream_id()
            self.conn.streams[self.sid] = self
            h2.send_headers(self.sid, head, end_stream=end and not body)
        except H2Error as exc:
            self._lost(f"upstream protocol error: {exc}")
            return
        self.outbox.extend(body)
        self.end_pending = end and bool(body)
        self.pump()

    def send_body(self, data: bytes, *, chunked: bool) -> None:
        if data and not self.closed:
            self.outbox.append(data)
            self.pump()

    def send_end(self, *, chunked: bool) -> None:
        if not self.closed:
            self.end_pending = True
            self.pump()

    def pump(self) -> None:
        """Request DATA within the upstream's windows; the client is paused while some waits."""
        h2, sid = self.conn.h2, self.sid
        try:
            while (data := next_piece(h2, sid, self.outbox)) is not None:
                h2.send_data(sid, data)
            if not self.outbox and self.end_pending:
                self.end_pending = False
                h2.end_stream(sid)
        except H2Error:
            self.outbox.clear()
        self.conn.flush()
        if self.sink is not None:
            self.sink.on_upstream_paused(bool(self.outbox))

    def pause_reading(self, paused: bool) -> None:
        self.paused = paused
        if not paused and self.unacked:
            size, self.unacked = self.unacked, 0
            self.conn.acknowledge(self.sid, size)

    def received(self, size: int) -> None:
        if self.paused:
            self.unacked += size
        else:
            self.conn.acknowledge(self.sid, size)

    def close(self) -> None:
        """The exchange is done with it (or gave up): an unfinished stream is cancelled."""
        self.sink = None
        if not self.closed:
            self.closed = True
            self.conn.streams.pop(self.sid, None)
            with contextlib.suppress(H2Error):
                if self.sid:
                    self.conn.h2.reset_stream(self.sid, ErrorCodes.CANCEL)
            self.conn.flush()

    def _lost(self, error: str) -> None:
        sink, self.sink = self.sink, None
        self.closed = True
        self.conn.streams.pop(self.sid, None)
        if sink is not None:
            sink.on_upstream_lost(error)

    # events from the connection ----------------------------------------------------------------------
    def on_headers(self, headers: list[tuple[bytes, bytes]], ended: bool) -> None:
        status = 0
        regular: list[tuple[bytes, bytes]] = []
        has_length = False
        for name, value in headers:
            if name == b":status":
                status = int(value)
            elif name[:1] != b":":
                has_length = has_length or name == b"content-length"
                regular.append((name, value))
        framing = "none" if ended or self.head_request else "length" if has_length else "chunked"
        if self.sink is not None:
            self.sink.on_response_head(status, regular, framing)
        if ended or self.head_request:
            self._end()

    def _end(self) -> None:
        sink, self.sink = self.sink, None
        self.closed = True
        self.conn.streams.pop(self.sid, None)
        if sink is not None:
            sink.on_response_end(True)


class H2UpstreamConnection(asyncio.Protocol):
    """One HTTP/2 connection to the upstream."""

    def __init__(self, pool: H2Pool) -> None:
        self.pool = pool
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        hpack_decoder.install(self.h2)
        self.streams: dict[int, H2Stream] = {}
        self.transport: asyncio.Transport | None = None
        self.usable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.h2.initiate_connection()
        self.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: RESPONSE_WINDOW})
        self.h2.increment_flow_control_window(RESPONSE_WINDOW)
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except H2Error as exc:
            self._fail(f"upstream protocol error: {exc}")
            return
        for event in events:
            self._event(event)
        self.flush()

    def _event(self, event: ev.Event) -> None:
        sid = getattr(event, "stream_id", 0)
        stream = self.streams.get(sid) if sid else None
        if isinstance(event, ev.ResponseReceived) and stream is not None:
            stream.on_headers(event.headers or [], event.stream_ended is not None)
        elif isinstance(event, ev.DataReceived):
            if stream is not None and stream.sink is not None:
                stream.sink.on_response_body(event.data)
                stream.received(event.flow_controlled_length)
            else:
                self.acknowledge(sid, event.flow_controlled_length)
        elif isinstance(event, ev.TrailersReceived) and stream is not None:
            if stream.sink is not None:
                stream.sink.on_response_trailers([(k, v) for k, v in event.headers or [] if k[:1] != b":"])
        elif isinstance(event, ev.StreamEnded) and stream is not None:
            stream._end()
        elif isinstance(event, ev.StreamReset) and stream is not None:
            stream._lost("upstream reset")
        elif isinstance(event, ev.WindowUpdated):
            for waiting in [stream] if stream is not None else list(self.streams.values()):
                if waiting.outbox or waiting.end_pending:
                    waiting.pump()
        elif isinstance(event, ev.ConnectionTerminated):
            self.usable = False
            last = event.last_stream_id or 0
            for other in [s for i, s in self.streams.items() if i > last]:
                other._lost("connection termination")

    def acknowledge(self, sid: int, size: int) -> None:
        if size and self.transport is not None:
            with contextlib.suppress(H2Error):
                self.h2.acknowledge_received_data(size, sid)
            self.flush()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def has_room(self) -> bool:
        peer_limit = self.h2.remote_settings.max_concurrent_streams
        return self.usable and self.transport is not None and len(self.streams) < peer_limit

    def _fail(self, error: str) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()
        for stream in list(self.streams.values()):
            stream._lost(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self.pool.forget(self)
        for stream in list(self.streams.values()):
            stream._lost("connection termination")

    def pause_writing(self) -> None:
        for stream in self.streams.values():
            if stream.sink is not None:
                stream.sink.on_upstream_paused(True)

    def resume_writing(self) -> None:
        for stream in self.streams.values():
            if stream.sink is not None and not stream.outbox:
                stream.sink.on_upstream_paused(False)


class H2Pool:
    """`--upstream-protocol h2`: streams multiplexed on one connection, a new one when it is full or gone."""

    def __init__(self, target: UpstreamTarget, ssl_context: ssl.SSLContext | None = None) -> None:
        self.target = target
        self.ssl_context = ssl_context
        self.conns: list[H2UpstreamConnection] = []
        self.scheme = b"https" if target.tls else b"http"

    @property
    def address(self) -> str:
        return self.target.address

    def request_head(self, *args: Any, **kwargs: Any) -> tuple[UpstreamHead, bytes, bytes]:
        return h2_request_head(*args, upstream_scheme=self.scheme, **kwargs)

    def acquire(self) -> H2Stream | None:
        for conn in self.conns:
            if conn.has_room():
                return H2Stream(conn)
        return None

    async def connect(self) -> H2Stream:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            _, conn = await loop.create_connection(
                lambda: H2UpstreamConnection(self),
                self.target.host,
                self.target.port,
                ssl=self.ssl_context if self.target.tls else None,
                server_hostname=self.target.host if self.target.tls else None,
            )
        self.conns.append(conn)
        return H2Stream(conn)

    def release(self, up: Any) -> None:
        if isinstance(up, H2Stream):
            up.close()

    def forget(self, conn: H2UpstreamConnection) -> None:
        if conn in self.conns:
            self.conns.remove(conn)

    def close(self) -> None:
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()
        self.conns = []
