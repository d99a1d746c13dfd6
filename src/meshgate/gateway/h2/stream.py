"""One HTTP/2 request stream as an exchange's downstream (gateway/downstream.py `Downstream`).

The exchange is the HTTP/1.1 one (gateway/exchange.py): the same decision, upstream and timers; this object
renders its response as HEADERS, DATA and trailers frames on the shared `h2` connection
(gateway/h2/protocol.py). Flow control both ways: response DATA goes out only as far as the client's window
allows, the rest waits here and the upstream stops being read until a WINDOW_UPDATE; request DATA is
acknowledged (re-opening the client's window) only while the upstream side is not paused.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

from h2.errors import ErrorCodes
from h2.exceptions import H2Error

from meshgate.gateway.context import GatewayContext
from meshgate.gateway.downstream import Ending
from meshgate.gateway.h2.grpc_reply import grpc_reply_headers, grpc_request
from meshgate.gateway.h2.heads import SERVER, Headers, h2_response_head, h2_trailers
from meshgate.gateway.h2.limits import next_piece
from meshgate.gateway.http1.upstream import UpstreamConnection
from meshgate.gateway.request_head import RequestHead

if TYPE_CHECKING:
    from h2.connection import H2Connection

    from meshgate.gateway.exchange import Exchange


class Connection(Protocol):
    """What a stream uses of its HTTP/2 connection (gateway/h2/protocol.py H2Protocol)."""

    h2: H2Connection
    ctx: GatewayContext
    peer_ip: str
    peer_ip_bytes: bytes
    local_ip: str
    local_port: int
    sni: str | None
    write_paused: bool

    def flush(self) -> None: ...
    def cork(self) -> None: ...
    def uncork(self) -> None: ...
    def acknowledge(self, sid: int, size: int) -> None: ...
    def stream_done(self, stream: H2Stream) -> None: ...


OUTBOUND_HIGH_WATER = 256 * 1024  # response bytes held for the client's window before the upstream pauses


def date_value(date_line: bytes) -> bytes:
    return date_line[6:-2]  # b"date: <value>\r\n"


class H2Stream:
    """The Downstream of one exchange; `conn` is the HTTP/2 connection it shares with others."""

    def __init__(self, conn: Connection, stream_id: int) -> None:
        self.conn = conn
        self.h2 = conn.h2
        self.ctx: GatewayContext = conn.ctx
        self.peer_ip, self.peer_ip_bytes = conn.peer_ip, conn.peer_ip_bytes
        self.local_ip, self.local_port = conn.local_ip, conn.local_port
        self.sni = conn.sni
        self.stream_id = stream_id
        self.exchange: Exchange | None = None
        self.paused = 0
        self.unacked = 0  # request bytes received while paused, acknowledged on resume
        self.outbox: deque[bytes] = deque()
        self.outbox_size = 0
        self.end_pending: tuple[bool, list[tuple[bytes, bytes]] | None] | None = None
        self.ended = self.reset = self.done = False
        self.upstream_paused = False

    @property
    def write_paused(self) -> bool:
        return self.conn.write_paused or self.outbox_size > OUTBOUND_HIGH_WATER

    # frames out ----------------------------------------------------------------------------------
    def _headers(self, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        if self.reset or self.ended:
            return
        try:
            self.h2.send_headers(self.stream_id, headers, end_stream=end)
        except H2Error:
            self.reset = True
            return
        self.ended = end
        self.conn.flush()

    def send_continue(self) -> None:
        self._headers([(b":status", b"100")], False)

    def send_head(
        self,
        status: int,
        headers: Headers,
        *,
        date_line: bytes,
        service_ms: int | None,
        chunked: bool = False,
        close: bool = False,
        upgrade: bool = False,
        listed: frozenset[bytes] | None = None,
        end: bool = False,
        head_request: bool = False,
    ) -> None:
        head = h2_response_head(
            status, headers, date=date_value(date_line), service_ms=service_ms, listed=listed
        )
        self._headers(head, end)

    def send_data(self, data: bytes, *, chunked: bool) -> None:
        if self.reset or self.ended or not data:
            return
        self.outbox.append(data)
        self.outbox_size += len(data)
        self.pump()

    def send_end(self, *, chunked: bool, trailers: Headers | None) -> None:
        if self.reset or self.ended:
            return
        self.end_pending = (True, h2_trailers(trailers) if trailers else None)
        self.pump()

    def pump(self) -> None:
        """Send what the client's windows allow; pause the upstream while the rest waits."""
        h2, sid = self.h2, self.stream_id
        try:
            while (data := next_piece(h2, sid, self.outbox)) is not None:
                self.outbox_size -= len(data)
                last = not self.outbox and self.end_pending is not None and not self.end_pending[1]
                h2.send_data(sid, data, end_stream=last)
                if last:
                    self.end_pending, self.ended = None, True
            if not self.outbox and self.end_pending is not None:
                _, trailers = self.end_pending
                self.end_pending = None
                if trailers:
                    h2.send_headers(sid, trailers, end_stream=True)
                else:
                    h2.end_stream(sid)
                self.ended = True
        except H2Error:
            self.reset = True
            self.outbox.clear()
            self.outbox_size = 0
        self.conn.flush()
        if (self.ended or self.reset) and self.done:
            self.conn.stream_done(self)
        else:
            self._upstream_backpressure()

    def _upstream_backpressure(self) -> None:
        paused = self.outbox_size > OUTBOUND_HIGH_WATER
        if paused != self.upstream_paused and self.exchange is not None and self.exchange.up is not None:
            self.upstream_paused = paused
            self.exchange.up.pause_reading(paused or self.conn.write_paused)

    def send_local_reply(
        self,
        req: RequestHead,
        status: int,
        body: str,
        headers: tuple[tuple[str, str], ...],
        *,
        close: bool,
        content_type: str,
        date_line: bytes,
    ) -> int:
        """Envoy's local reply over HTTP/2: trailers-only for gRPC; else HEADERS (content-length and
        content-type only with a body) and one DATA frame with END_STREAM."""
        head = req.method == b"HEAD"
        tail = [(b"date", date_value(date_line)), (b"server", SERVER)]
        if grpc_request(req.attr_headers):
            fields = grpc_reply_headers(status, body, headers, head=head)
            self._headers([(b":status", b"200"), *_encode(fields), *tail], True)
            return 0
        payload = body.encode()
        out = [(b":status", b"%d" % status), *_encode(headers)]
        if payload:
            out += [(b"content-length", b"%d" % len(payload)), (b"content-type", content_type.encode())]
        self._headers(out + tail, not payload or head)
        if payload and not head:
            self.outbox.append(payload)
            self.outbox_size += len(payload)
            self.send_end(chunked=False, trailers=None)  # END_STREAM rides on the one DATA frame
            return len(payload)
        return 0

    def abort_response(self) -> None:
        self.reset_stream(ErrorCodes.INTERNAL_ERROR)

    def reset_stream(self, code: int) -> None:
        if not self.reset and not self.ended:
            self.reset = True
            try:
                self.h2.reset_stream(self.stream_id, code)
            except H2Error:
                pass
            self.conn.flush()

    # request side: flow control -------------------------------------------------------------------
    def received(self, size: int) -> None:
        """`size` flow-controlled bytes of request DATA arrived (already handed to the exchange)."""
        if self.paused:
            self.unacked += size
        else:
            self.conn.acknowledge(self.stream_id, size)

    def pause(self, reason: int) -> None:
        self.paused |= reason

    def resume(self, reason: int) -> None:
        if self.paused & reason:
            self.paused &= ~reason
            if not self.paused and self.unacked:
                size, self.unacked = self.unacked, 0
                self.conn.acknowledge(self.stream_id, size)

    # the rest of Downstream -----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Only tunnelled bytes are written raw, and HTTP/2 streams never tunnel."""

    def cork(self) -> None:
        self.conn.cork()

    def uncork(self) -> None:
        self.conn.uncork()

    def close(self) -> None:
        """The exchange wants its connection closed after it: on HTTP/2 only the stream ends."""

    def start_tunnel(self, up: UpstreamConnection) -> None:
        raise AssertionError("an HTTP/2 stream never upgrades")

    def fail(self, exchange: Ending) -> None:
        self.reset_stream(ErrorCodes.INTERNAL_ERROR)
        self.conn.stream_done(self)

    def exchange_done(self, exchange: Ending) -> None:
        self.done = True
        if not self.ended and not self.reset:
            return  # the response still drains through the client's window; pump() ends it
        self.conn.stream_done(self)


def _encode(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]  # HTTP/2: lower case
