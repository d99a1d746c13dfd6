"""What every connection of one gateway listener shares: the serving state, the upstream pool, the
CUSTOM providers, the route-timeout sweep, the tasks in flight and the drain flag."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.engine.decision import UpstreamEdits
from meshgate.gateway.deadlines import DeadlineSweep
from meshgate.gateway.heads import removal_names
from meshgate.gateway.router import Router, SingleUpstream
from meshgate.gateway.seam import Pool
from meshgate.server.state import ServingState

T = TypeVar("T")
MAX_REMOVAL_LISTS = 64  # distinct UpstreamEdits.remove lists kept encoded (a workload has a handful)
# Why a connection stopped reading: each reason is a bit, reading resumes when none is left.
PAUSE_PIPELINE, PAUSE_UPSTREAM, PAUSE_BUFFER, PAUSE_TUNNEL = 1, 2, 4, 8


class Connection(Protocol):
    """What the context does to a downstream connection (gateway/http1/protocol.py GatewayProtocol)."""

    def drain(self) -> None: ...
    def abort(self) -> None: ...


class GatewayContext:
    """Built once per listener (per worker process); read by every connection and exchange."""

    def __init__(
        self,
        state: ServingState,
        pool: Pool | None,
        *,
        scheme: str = "http",
        upstream_timeout: float = 15.0,
        access_log: bool = True,
        custom_providers: Mapping[str, ExtAuthzProvider] | None = None,
    ) -> None:
        self.state = state
        self.clock = state.clock  # the one clock: request start, service time, dates, the access log
        self.pool = pool
        self.scheme = scheme
        self.scheme_bytes = scheme.encode()
        self.upstream_timeout = upstream_timeout
        self.deadlines = DeadlineSweep(upstream_timeout)
        self.upstream_host = pool.address if pool is not None else "builtin"
        self.access_log_enabled = access_log
        self.custom_providers: Mapping[str, ExtAuthzProvider] = custom_providers or {}
        self.connections: set[Connection] = set()
        # UpstreamEdits.remove → its names as bytes, oldest list dropped first past the bound
        self._removals: dict[tuple[str, ...], frozenset[bytes]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.draining = False
        # what an allowed request does next (gateway/router.py); routing replaces it (gateway/ingress/routed.py)
        self.router: Router = SingleUpstream(pool, self.removals)
        self.routed = False  # the router is gateway/ingress/routed.py's: the log prints the cluster and route

    def removals(self, edits: UpstreamEdits) -> frozenset[bytes]:
        """The names `edits` takes off the request, encoded once per distinct removal list."""
        if edits.set:
            return removal_names(edits.remove, edits.set)
        names = self._removals.get(edits.remove)
        if names is None:
            if len(self._removals) >= MAX_REMOVAL_LISTS:
                del self._removals[next(iter(self._removals))]
            names = self._removals[edits.remove] = removal_names(edits.remove, ())
        return names

    def spawn(self, coro: Coroutine[Any, Any, T], done: Callable[[asyncio.Task[T]], None]) -> None:
        """Run `coro` as a task (kept referenced) and hand the finished task to `done`."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(done)

    def drain(self) -> None:
        """Stop keeping connections alive: idle ones close now, busy ones after their response."""
        self.draining = True
        for conn in list(self.connections):
            conn.drain()

    async def wait_closed(self, timeout_s: float) -> bool:
        """Wait until every connection closed; False when `timeout_s` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return not self.connections

    def abort_all(self) -> None:
        for conn in list(self.connections):
            conn.abort()
        for task in list(self.tasks):
            task.cancel()
        self.deadlines.close()
        if self.pool is not None:
            self.pool.close()
