"""One request on a downstream connection (an `Exchange`): decide, then reply locally or proxy it.

Callback-driven, no task per request: the request head is decided synchronously
(`state.decide_now`; a task only for an unknown-kid refetch or a new upstream connection), the body is
streamed to the upstream as it is parsed, and the upstream's parser callbacks write the response
downstream. Backpressure is the transports' own: a full upstream write buffer pauses downstream reading,
a full downstream write buffer pauses upstream reading. Envoy's router behaviours (observed on Envoy
1.40): 503 when the upstream cannot be reached or resets before the response head, 504 when the route
timeout (end of request → end of response) fires first, and a reset downstream connection when the
upstream dies mid-response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from meshgate.custom.apply import apply_custom
from meshgate.engine.decision import Decision
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE
from meshgate.gateway.builtin_app import hello_response
from meshgate.gateway.exchange_log import record
from meshgate.gateway.heads import (
    LAST_CHUNK,
    NOTHING,
    RequestHead,
    downstream_response_head,
    upstream_request_head,
)
from meshgate.gateway.local_reply import (
    CONTINUE_100,
    DATES,
    UPSTREAM_CONNECT_FAILURE,
    UPSTREAM_CONNECTION_TERMINATION,
    UPSTREAM_REQUEST_TIMEOUT,
    local_reply,
)
from meshgate.gateway.upstream import UpstreamConnection

if TYPE_CHECKING:
    from meshgate.engine.attributes import RequestAttributes
    from meshgate.gateway.protocol import GatewayProtocol

log = logging.getLogger("meshgate.gateway")

PENDING_BODY_LIMIT = 256 * 1024  # request body buffered while deciding / connecting before reading pauses
# Envoy response flags (envoyproxy/envoy:source/common/stream_info/utility.cc).
UF, UC, UT, DC, DPE = "UF", "UC", "UT", "DC", "DPE"


class Exchange:
    """One request/response on a downstream connection, from its parsed head to its access-log line."""

    __slots__ = (
        "body_sent", "bytes_in", "bytes_out", "close_after", "conn", "decision", "discard",
        "finished", "flags", "head", "output", "pending", "pending_size", "req", "req_done", "request_id",
        "resp_chunked", "resp_done", "resp_started", "retried", "service_ms", "start", "status", "timed",
        "tunnel", "up", "up_start", "upstream_head", "xff",
    )  # fmt: skip

    def __init__(self, conn: GatewayProtocol, req: RequestHead) -> None:
        self.conn = conn
        self.output = conn  # UpstreamSink: the response is written to the downstream connection
        self.req = req
        self.start = time.time()
        self.decision: Decision | None = None
        self.req_done = self.resp_started = self.resp_done = self.finished = False
        self.discard = req.reject is not None  # body bytes are dropped (local reply / built-in app)
        self.close_after = False
        self.up: UpstreamConnection | None = None
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.status = 0
        self.flags = "-"
        self.bytes_in = self.bytes_out = 0
        self.body_sent = self.retried = self.resp_chunked = self.tunnel = False
        self.timed = False  # armed in the context's DeadlineSweep (the route timeout)
        self.service_ms: int | None = None
        self.up_start = 0.0
        self.upstream_head = b""
        self.head = req.method == b"HEAD"
        self.xff: bytes | None = None  # as sent upstream (decoded only for the access log)
        self.request_id: bytes | None = None

    # decision ----------------------------------------------------------------------------------
    def begin(self) -> None:
        """Called once this exchange is at the head of the connection's queue."""
        req = self.req
        if req.reject is not None:
            status, body = req.reject
            self.reply(status, body, close=True, flags=DPE if status in (400, 431, 501) else "-")
            return
        if req.expect_continue:
            self.conn.write(CONTINUE_100)
        conn = self.conn
        state = conn.ctx.state
        attrs = req.attributes(conn.ctx.scheme, conn.peer_ip, conn.local_ip, conn.local_port)
        decision = state.decide_now(attrs, self.start)
        if decision.refresh or decision.custom_provider:
            conn.ctx.spawn(self._decide_async(attrs, decision), self._decided_later)
            return
        self._decided(decision)

    async def _decide_async(self, attrs: RequestAttributes, decision: Decision) -> Decision:
        """The slow path: refetch keys for an unknown kid, then ask a CUSTOM provider (Istio runs it first)."""
        ctx = self.conn.ctx
        if decision.refresh:
            decision = await ctx.state.decide(attrs)
        if decision.custom_provider:
            decision = await apply_custom(decision, attrs, ctx.custom_providers)
        return decision

    def _decided_later(self, task: asyncio.Task[Decision]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("deciding failed", exc_info=exc)
            self.conn.fail(self)
            return
        self._decided(task.result())

    def _decided(self, decision: Decision) -> None:
        self.decision = decision
        if self.finished:
            return
        if not decision.allowed or decision.upstream is None:
            close = decision.status == 400  # path normalization failure: Envoy closes (observed)
            self.reply(
                decision.status, decision.body, decision.headers, close=close, ctype=decision.content_type
            )
            return
        edits = decision.upstream
        ctx = self.conn.ctx
        if ctx.pool is None:
            self._builtin(edits.path)
            return
        req = self.req
        self.upstream_head, self.xff, self.request_id = upstream_request_head(
            req.method, edits.path.encode("latin-1"), req.raw_headers, peer_ip=self.conn.peer_ip_bytes,
            scheme=ctx.scheme_bytes, drop=ctx.removals(edits), set_headers=edits.set, chunked=req.chunked,
            upgrade=req.upgrade, listed=req.listed,
        )  # fmt: skip
        up = ctx.pool.acquire()
        if up is not None:
            self._attach(up)
        else:
            self._connect()

    # upstream ----------------------------------------------------------------------------------
    def _connect(self) -> None:
        pool = self.conn.ctx.pool
        assert pool is not None
        self.conn.ctx.spawn(pool.connect(), self._connected)

    def _connected(self, task: asyncio.Task[UpstreamConnection]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if self.finished:
            if exc is None and self.conn.ctx.pool is not None:
                self.conn.ctx.pool.release(task.result())
            return
        if exc is not None:
            self.reply(503, UPSTREAM_CONNECT_FAILURE, flags=UF)
            return
        self._attach(task.result())

    def _attach(self, up: UpstreamConnection) -> None:
        self.up = up
        up.start(self, head_request=self.head)
        self.up_start = time.time()
        chunked = self.req.chunked
        if self.pending or (self.req_done and chunked):
            parts = [self.upstream_head]
            for data in self.pending:
                parts += (b"%x\r\n" % len(data), data, b"\r\n") if chunked else (data,)
            self.body_sent = bool(self.pending)
            if self.req_done and chunked:
                parts.append(LAST_CHUNK)
            self.pending = []
            self.pending_size = 0
            up.writelines(parts)
        else:
            up.write(self.upstream_head)
        conn = self.conn
        if conn.paused:
            conn.resume(conn.PAUSE_BUFFER)
        if conn.write_paused:
            up.pause_reading(True)
        if self.req_done:
            self._arm_timer()

    # request body ------------------------------------------------------------------------------
    def request_body(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if self.discard or self.finished:
            return
        up = self.up
        if up is not None:
            self.body_sent = True
            if self.req.chunked:
                up.writelines([b"%x\r\n" % len(data), data, b"\r\n"])
            else:
                up.write(data)
            return
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size > PENDING_BODY_LIMIT:
            self.conn.pause(self.conn.PAUSE_BUFFER)

    def request_complete(self) -> None:
        self.req_done = True
        if self.finished:
            return
        up = self.up
        if up is not None:
            if self.req.chunked:
                up.write(LAST_CHUNK)
            self._arm_timer()
        elif self.resp_done:
            self._finish()

    # response (UpstreamSink) -------------------------------------------------------------------
    def on_response_head(self, status: int, headers: list[tuple[bytes, bytes]], framing: str) -> None:
        if self.finished:
            return
        self.resp_started = True
        self.status = status
        now = time.time()
        self.service_ms = int((now - self.up_start) * 1000)
        req = self.req
        upgraded = status == 101 and req.upgrade is not None
        close = not upgraded and (self.must_close() or req.upgrade is not None)
        self.resp_chunked = chunked = framing in ("chunked", "close")
        up = self.up
        head = downstream_response_head(
            status, headers, date_line=DATES.line(now), service_time_ms=self.service_ms, chunked=chunked,
            close=close, upgrade=upgraded, listed=None if up is None or up.lists_names else NOTHING,
        )  # fmt: skip
        self.close_after = close
        self.conn.write(head)
        if upgraded and self.up is not None:
            self.tunnel = True
            self._cancel_timer()
            self.conn.start_tunnel(self.up)

    def on_response_body(self, data: bytes) -> None:
        if self.finished:
            return
        self.bytes_out += len(data)
        if self.resp_chunked:
            self.conn.writelines([b"%x\r\n" % len(data), data, b"\r\n"])
        else:
            self.conn.write(data)

    def on_response_end(self, keep_alive: bool) -> None:
        up, self.up = self.up, None
        self._cancel_timer()
        if self.finished:
            return
        if self.resp_chunked:
            self.conn.write(LAST_CHUNK)
        self.resp_done = True
        self.discard = True
        if up is not None:
            pool = self.conn.ctx.pool
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
            self.conn.close()
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
        if paused:
            self.conn.pause(self.conn.PAUSE_UPSTREAM)
        else:
            self.conn.resume(self.conn.PAUSE_UPSTREAM)

    def on_tunnel_data(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.conn.write(data)

    def tunnel_sent(self, size: int) -> None:
        self.bytes_in += size

    # timeouts, local replies, the end ----------------------------------------------------------
    def _arm_timer(self) -> None:
        if not self.timed and not self.tunnel:
            self.timed = True
            self.conn.ctx.deadlines.arm(self)

    def _cancel_timer(self) -> None:
        if self.timed:
            self.timed = False
            self.conn.ctx.deadlines.disarm(self)

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
            self.conn.close()
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
        self.conn.write(local_reply(status, body, headers, head=self.head, close=close, content_type=ctype))
        self.bytes_out = 0 if self.head else len(body.encode())
        if self.req_done or close:
            self._finish()

    def _builtin(self, path: str) -> None:
        close = not self.req.keep_alive or self.conn.ctx.draining
        data, sent = hello_response(path, date_line=DATES.line(), head=self.head, close=close)
        self.status, self.bytes_out, self.service_ms = 200, sent, 0
        self.resp_started = self.resp_done = self.discard = True
        self.close_after = close
        self.conn.write(data)
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
        record(self)
        self.conn.exchange_done(self)
