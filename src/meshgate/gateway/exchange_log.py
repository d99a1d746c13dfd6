"""What one request leaves behind: its metrics and its access-log line; and the access-log stream.

Envoy buffers access logs and flushes them on an interval (`access_log_flush_interval`, default 1 s),
so a request never waits on a log syscall; `DeferredFlushStream` does the same for meshgate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol, TextIO

from meshgate.engine.decision import Decision
from meshgate.gateway.context import GatewayContext
from meshgate.gateway.request_head import RequestHead
from meshgate.gateway.router import Step, ToUpstream
from meshgate.server.access_log import AccessLogEntry

log = logging.getLogger("meshgate.gateway")

FLUSH_INTERVAL_S = 1.0  # Envoy's access_log_flush_interval default


class Finished(Protocol):
    """What the log reads of a finished exchange (gateway/transfer.py Transfer)."""

    req: RequestHead
    decision: Decision | None
    start: float
    status: int
    flags: str
    bytes_in: int
    bytes_out: int
    service_ms: int | None
    up_start: float
    xff: bytes | None
    request_id: bytes | None
    step: Step | None


def record(exchange: Finished, ctx: GatewayContext, peer_ip: str) -> None:
    """Count the request in the metrics and write its access-log line; never raises."""
    req = exchange.req
    decision = exchange.decision
    duration = ctx.clock() - exchange.start
    try:
        ctx.state.metrics.observe_request(decision, exchange.status, duration, exchange.flags)
        ctx.state.decisions.append(
            (exchange.start, "gateway", req.method_str, req.target_str, exchange.status, decision)
        )
        if not ctx.access_log_enabled:
            return
        xff, request_id = exchange.xff, exchange.request_id
        step = exchange.step
        path = req.target_str  # Envoy logs :path as the filters saw it: normalized
        if decision is not None and decision.path is not None:
            path = decision.path
        ctx.state.access_log.log(
            AccessLogEntry(
                start_time=exchange.start,
                method=req.method_str,
                path=path,
                protocol=req.protocol,
                response_code=exchange.status,
                response_flags=exchange.flags,
                bytes_received=exchange.bytes_in,
                bytes_sent=exchange.bytes_out,
                duration_ms=int(duration * 1000),
                upstream_service_time_ms=exchange.service_ms,
                xff=xff.decode("latin-1") if xff else req.forwarded_for(peer_ip),
                user_agent=req.user_agent,
                request_id=request_id.decode("latin-1") if request_id else req.request_id,
                authority=req.host,
                upstream_host=_upstream_host(exchange, ctx) if exchange.up_start else None,
                reason=_reason(exchange, decision),
                upstream_cluster=step.cluster if step is not None else None,
                route_name=step.route_name if step is not None else None,
                routed=ctx.routed,
            )
        )
    except Exception:  # the log must never break the data path
        log.exception("access log / metrics failed")


def _reason(exchange: Finished, decision: Decision | None) -> str:
    """The destination hop's reason when it decided (routing), else the gateway hop's."""
    step = exchange.step
    if step is not None and step.hop is not None:
        return step.hop.reason
    return decision.reason if decision is not None else "none"


def _upstream_host(exchange: Finished, ctx: GatewayContext) -> str:
    step = exchange.step
    if isinstance(step, ToUpstream) and step.upstream_host is not None:
        return step.upstream_host
    return ctx.upstream_host


class DeferredFlushStream:
    """Wraps the access-log stream: `flush()` per line becomes a no-op; `flush_now()` really flushes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text)

    def flush(self) -> None:
        """Called by AccessLog after every line: deferred to the periodic flush."""

    def flush_now(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()

    async def flush_periodically(self, interval_s: float = FLUSH_INTERVAL_S) -> None:
        try:
            while True:
                await asyncio.sleep(interval_s)
                self.flush_now()
        finally:
            self.flush_now()
