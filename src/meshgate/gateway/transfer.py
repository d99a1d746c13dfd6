"""One request's upstream leg and response: connect, write the response back, time out, answer, end.

Callback-driven, no task per request; backpressure is the transports' own (a full write buffer on one
side pauses reading on the other). Envoy's router (observed on Envoy 1.40): 503 when the upstream cannot
be reached or resets before the response head, 504 when the route timeout (end of request → end of
response) fires first, a reset downstream connection when the upstream dies mid-response. `Exchange`
(gateway/exchange.py) adds the request's side: its decision, its route step and its body.
"""

from __future__ import annotations

import asyncio

from meshgate.engine.decision import Decision
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE
from meshgate.gateway.context import PAUSE_BUFFER, PAUSE_UPSTREAM
from meshgate.gateway.deadlines import DeadlineSweep
from meshgate.gateway.downstream import Downstream
from meshgate.gateway.exchange_log import record
from meshgate.gateway.heads import NOTHING
from meshgate.gateway.http1.upstream import UpstreamConnection
from meshgate.gateway.local_reply import (
    DATES,
    UPSTREAM_CONNECT_FAILURE,
    UPSTREAM_CONNECTION_TERMINATION,
    UPSTREAM_REQUEST_TIMEOUT,
)
from meshgate.gateway.request_head import RequestHead
from meshgate.gateway.router import Step, edited_response
from meshgate.gateway.seam import Pool, Upstream, UpstreamHead

# Envoy response flags (envoyproxy/envoy:source/common/stream_info/utility.cc).
UF, UC, UT, DC, DPE = "UF", "UC", "UT", "DC", "DPE"


class Transfer:
    """One request/response on a downstream connection, from its parsed head to its access-log line."""

    __slots__ = (
        "body_sent", "bytes_in", "bytes_out", "close_after", "conn", "decision", "discard", "finished",
        "flags", "head", "output", "pending", "pending_size", "pool", "req", "req_done", "request_id",
        "resp_chunked", "resp_done", "resp_started", "retried", "service_ms", "start", "status", "step",
        "sweep", "timed", "trailers", "tunnel", "up", "up_start", "upstream_head", "xff",
    )  # fmt: skip

    def __init__(self, conn: Downstream, req: RequestHead) -> None:
        self.conn = conn
        self.output = conn  # UpstreamSink: the response is written to the downstream connection
        self.req = req
        self.start = conn.ctx.clock()
        self.decision: Decision | None = None
        self.req_done = self.resp_started = self.resp_done = self.finished = False
        self.discard = req.reject is not None  # body bytes are dropped (local reply / built-in app)
        self.close_after = False
        self.up: Upstream | None = None
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.status = 0
        self.flags = "-"
        self.bytes_in = self.bytes_out = 0
        self.body_sent = self.retried = self.resp_chunked = self.tunnel = False
        self.timed = False  # armed in the context's DeadlineSweep (the route timeout)
        self.service_ms: int | None = None
        self.up_start = 0.0
        self.upstream_head: UpstreamHead = b""
        self.head = req.method == b"HEAD"
        self.xff: bytes | None = None  # as sent upstream (decoded only for the access log)
        self.request_id: bytes | None = None
        self.step: Step | None = None  # the router's answer (gateway/router.py), with its pool and deadline
        self.pool: Pool | None = None
        self.sweep: DeadlineSweep = conn.ctx.deadlines

    # upstream ----------------------------------------------------------------------------------
    def _connect(self) -> None:
        pool = self.pool
        assert pool is not None
        self.conn.ctx.spawn(pool.connect(), self._connected)

    def _connected(self, task: asyncio.Task[Upstream]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if self.finished:
            if exc is None and self.pool is not None:
                self.pool.release(task.result())
            return
        if exc is not None:
            self.reply(503, UPSTREAM_CONNECT_FAILURE, flags=UF)
            return
        self._attach(task.result())

    def _attach(self, up: Upstream) -> None:
        self.up = up
        up.start(self, head_request=self.head)
        self.up_start = self.conn.ctx.clock()
        self.body_sent = bool(self.pending)
        pending, self.pending, self.pending_size = self.pending, [], 0
        up.send_request(self.upstream_head, pending, end=self.req_done, chunked=self.req.chunked)
        conn = self.conn
        if conn.paused:
            conn.resume(PAUSE_BUFFER)
        if conn.write_paused:
            up.pause_reading(True)
        if self.req_done:
            self._arm_timer()

    # response (UpstreamSink) -------------------------------------------------------------------
    def on_response_head(self, status: int, headers: list[tuple[bytes, bytes]], framing: str) -> None:
        if self.finished:
            return
        self.resp_started = True
        self.status = status
        now = self.conn.ctx.clock()
        self.service_ms = int((now - self.up_start) * 1000)
        req = self.req
        upgraded = status == 101 and req.upgrade is not None
        close = not upgraded and (self.must_close() or req.upgrade is not None)
        self.resp_chunked = chunked = framing in ("chunked", "close")
        up = self.up
        headers, service = edited_response(self.step, headers, self.service_ms)
        self.close_after = close
        self.conn.send_head(
            status, headers, date_line=DATES.line(now), service_ms=service, chunked=chunked,
            close=close, upgrade=upgraded, listed=None if up is None or up.lists_names else NOTHING,
            end=framing == "none" and not upgraded, head_request=self.head,
        )  # fmt: skip
        if upgraded and isinstance(up, UpstreamConnection):
            self.tunnel = True
            self._cancel_timer()
            self.conn.start_tunnel(up)

    def on_response_body(self, data: bytes) -> None:
        if self.finished:
            return
        self.bytes_out += len(data)
        self.conn.send_data(data, chunked=self.resp_chunked)

    def on_response_trailers(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.trailers = trailers

    def on_response_end(self, keep_alive: bool) -> None:
        up, self.up = self.up, None
        self._cancel_timer()
        if self.finished:
            return
        self.conn.send_end(chunked=self.resp_chunked, trailers=self.trailers)
        self.resp_done = True
        self.discard = True
        if up is not None:
            pool = self.pool
            if keep_alive and self.req_done and pool is not None:
                pool.release(up)
            else:
                up.close()
        if self.req_done or self.close_after:
            self._finish()

    def on_upstream_lost(self, error: str) -> None:
        up, self.up = self.up, None
        self._cancel_timer()
        if self.finished:
            return
        if self.tunnel or self.resp_started:
            if not self.tunnel:
                self.flags = UC
            self.conn.abort_response()
            self._finish()
            return
        if (
            up is not None
            and up.used > 1
            and not self.body_sent
            and not self.req.has_body
            and not self.retried
        ):
            self.retried = True  # a kept-alive connection the upstream had just closed: try a fresh one
            self._connect()
            return
        self.reply(503, UPSTREAM_CONNECTION_TERMINATION, flags=UC)

    def on_upstream_paused(self, paused: bool) -> None:
        (self.conn.pause if paused else self.conn.resume)(PAUSE_UPSTREAM)

    def on_tunnel_data(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.conn.write(data)

    def tunnel_sent(self, size: int) -> None:
        self.bytes_in += size

    # timeouts, local replies, the end ----------------------------------------------------------
    def _arm_timer(self) -> None:
        if not self.timed and not self.tunnel:
            self.timed = True
            (self.req.deadlines or self.sweep).arm(self)  # a gRPC client's grpc-timeout beats the route's

    def _cancel_timer(self) -> None:
        if self.timed:
            self.timed = False
            (self.req.deadlines or self.sweep).disarm(self)  # a gRPC client's grpc-timeout beats the route's

    def expire(self) -> None:
        """The route timeout passed (called by the DeadlineSweep, already disarmed)."""
        self.timed = False
        up, self.up = self.up, None
        if up is not None:
            up.close()
        if self.finished:
            return
        if self.resp_started:
            self.flags = UT
            self.conn.abort_response()
            self._finish()
        else:
            self.reply(504, UPSTREAM_REQUEST_TIMEOUT, flags=UT)

    def must_close(self) -> bool:
        """Envoy ends the connection after this response: client asked, draining, or body still unread."""
        unread = not self.req_done and self.req.has_body
        return not self.req.keep_alive or self.conn.ctx.draining or unread

    def reply(
        self,
        status: int,
        body: str,
        headers: tuple[tuple[str, str], ...] = (),
        *,
        close: bool = False,
        ctype: str = LOCAL_REPLY_CONTENT_TYPE,
        flags: str = "-",
    ) -> None:
        """Answer locally with Envoy's bytes; the connection closes if the request is not fully read."""
        up, self.up = self.up, None
        if up is not None:  # the downstream request broke mid-body: the upstream one stays unfinished
            self._cancel_timer()
            up.close()
        close = close or self.must_close() or self.req.upgrade is not None
        self.status, self.flags = status, flags
        self.resp_started = self.resp_done = self.discard = True
        self.close_after = close
        date = DATES.line(self.conn.ctx.clock())
        self.bytes_out = self.conn.send_local_reply(
            self.req, status, body, headers, close=close, content_type=ctype, date_line=date
        )
        if self.req_done or close:
            self._finish()

    def downstream_lost(self) -> None:
        """The client went away: drop the upstream side and log what happened."""
        up, self.up = self.up, None
        self._cancel_timer()
        if up is not None:
            up.close()
        if not self.resp_done and not self.tunnel:
            self.flags = DC
        self._finish()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        record(self, self.conn.ctx, self.conn.peer_ip)
        self.conn.exchange_done(self)
