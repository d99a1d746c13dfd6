"""One request on a downstream connection: decide, then answer locally, serve the built-in app, or proxy.

The request head is decided synchronously with the engine in force; a task is started only when the
engine asks for the network (an unknown kid's key set, a CUSTOM provider: server/decide.py) or a new
upstream connection is needed. The body is streamed to the upstream as it is parsed (buffered while the
upstream connection is being made); the response is Transfer's (gateway/transfer.py).
"""

from __future__ import annotations

import asyncio
import logging

from meshgate.engine.decision import Decision
from meshgate.gateway.builtin_app import hello_head
from meshgate.gateway.context import PAUSE_BUFFER
from meshgate.gateway.local_reply import DATES
from meshgate.gateway.router import LocalAnswer, Step
from meshgate.gateway.transfer import DPE, Transfer
from meshgate.server.decide import settle

log = logging.getLogger("meshgate.gateway")

PENDING_BODY_LIMIT = 256 * 1024  # request body buffered while deciding / connecting before reading pauses


class Exchange(Transfer):
    """A request/response from its parsed head to its access-log line; `begin` once it may run."""

    __slots__ = ()

    def begin(self) -> None:
        """Called once this exchange is at the head of the connection's queue."""
        req = self.req
        if req.reject is not None:
            status, body = req.reject
            self.reply(status, body, close=True, flags=DPE if status in (400, 431, 501) else "-")
            return
        conn = self.conn
        if req.expect_continue:
            conn.send_continue()
        ctx = conn.ctx
        state = ctx.state
        engine = state.engine  # read once: the whole request is decided by one configuration
        attrs = req.attributes(ctx.scheme, conn.peer_ip, conn.local_ip, conn.local_port)
        decision = engine.decide(attrs, state.keystore.snapshot, self.start)
        if decision.refresh or decision.custom_provider is not None:  # server/decide.py waits(), inlined
            pending = settle(decision, attrs, engine, state.keystore, ctx.clock, ctx.custom_providers)
            ctx.spawn(pending, self._settled)
            return
        self._decided(decision)

    def _settled(self, task: asyncio.Task[Decision]) -> None:
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
            headers = self.conn.ctx.router.denied(self, decision)  # a route's response edits, if any
            self.reply(decision.status, decision.body, headers, close=close, ctype=decision.content_type)
            return
        step = self.conn.ctx.router.step(self, decision)
        if step is not None:
            self.routed(step)

    def routed(self, step: Step) -> None:
        """What the router decided: answer locally, let the built-in app answer, or send upstream."""
        self.step = step
        if self.finished:
            return
        if isinstance(step, LocalAnswer):
            if step.relayed:
                self.relay(step)
            else:
                self.reply(step.status, step.body, step.headers, close=step.close, ctype=step.content_type)
            return
        if step.pool is None:
            self._builtin(step.path)
            return
        self.pool = step.pool
        if step.sweep is not None:
            self.sweep = step.sweep
        req = self.req
        ctx = self.conn.ctx
        pool = step.pool
        headers = req.raw_headers if step.headers is None else step.headers
        self.upstream_head, self.xff, self.request_id = pool.request_head(
            req.method, step.path.encode("latin-1"), headers, peer_ip=self.conn.peer_ip_bytes,
            scheme=ctx.scheme_bytes, drop=step.drop, chunked=req.chunked,
            set_headers=step.set_headers if req.deadlines is None else (*step.set_headers, req.deadlines.header()),
            upgrade=req.upgrade, listed=req.listed,
        )  # fmt: skip
        up = pool.acquire()
        if up is not None:
            self._attach(up)
        else:
            self._connect()

    def relay(self, step: LocalAnswer) -> None:
        """The destination hop's own answer as the gateway passes it on: its local reply's head, with
        `x-envoy-upstream-service-time` and the route's response edits in it already (gateway/ingress/
        routed.py), under the gateway's response rules (observed on Envoy 1.40: a gateway Envoy in front of
        a sidecar Envoy)."""
        close = step.close or self.must_close()
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in step.headers]
        date = DATES.line(self.conn.ctx.clock())
        body = b"" if self.head else step.body.encode()
        self.status, self.service_ms, self.bytes_out = step.status, 0, len(body)
        self.resp_started = self.resp_done = self.discard = True
        self.close_after = close
        conn = self.conn
        conn.send_head(
            step.status,
            headers,
            date_line=date,
            service_ms=None,
            close=close,
            end=not body,
            head_request=self.head,
        )
        if body:
            conn.send_data(body, chunked=False)
            conn.send_end(chunked=False, trailers=None)
        if self.req_done or close:
            self._finish()

    # request body ------------------------------------------------------------------------------
    def request_body(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if self.discard or self.finished:
            return
        up = self.up
        if up is not None:
            self.body_sent = True
            up.send_body(data, chunked=self.req.chunked)
            return
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size > PENDING_BODY_LIMIT:
            self.conn.pause(PAUSE_BUFFER)

    def request_complete(self) -> None:
        self.req_done = True
        if self.finished:
            return
        up = self.up
        if up is not None:
            up.send_end(chunked=self.req.chunked)
            self._arm_timer()
        elif self.resp_done:
            self._finish()

    def _builtin(self, path: str) -> None:
        """No `--upstream`: the built-in app answers, through the same response-head rules as an upstream."""
        ctx = self.conn.ctx
        close = not self.req.keep_alive or ctx.draining
        headers, body = hello_head(path)
        self.status, self.bytes_out, self.service_ms = 200, 0 if self.head else len(body), 0
        self.resp_started = self.resp_done = self.discard = True
        self.close_after = close
        conn = self.conn
        conn.cork()  # head and body in one write
        conn.send_head(
            200, headers, date_line=DATES.line(ctx.clock()), service_ms=0, close=close, end=self.head
        )
        if not self.head:
            conn.send_data(body, chunked=False)
            conn.send_end(chunked=False, trailers=None)
        conn.uncork()
        if self.req_done or close:
            self._finish()
