"""The external authorizer's decision step, shared by the gRPC and HTTP fronts.

It adds to `ServingState.decide` what only an external authorizer needs: the workload may be named per
request (engines for other workloads are compiled on first use from the loaded resources, cached, and
dropped when a reload swaps the configuration), CUSTOM providers are consulted, and every answer is
counted in the metrics and written to the access log exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from meshgate.authn.result import AuthnTrace
from meshgate.authz.result import AuthzTrace
from meshgate.config.model import Workload
from meshgate.custom.providers import CustomProviders
from meshgate.engine.decision import Decision, Trace, rbac_denied
from meshgate.extauthz.attributes import ExtAuthzRequest, WorkloadOverride
from meshgate.server.access_log import AccessLogEntry
from meshgate.server.decide import settle, waits
from meshgate.server.state import ServingState

if TYPE_CHECKING:
    from meshgate.engine.engine import Engine

DEFAULT_MAX_WORKLOADS = 64  # bounded: the workload comes from the caller
WorkloadKey = tuple[str, tuple[tuple[str, str], ...]]


def bad_request_denial(problem: str) -> Decision:
    """A malformed per-request workload is denied like an RBAC denial (fail closed), reason logged."""
    trace = Trace(
        authn=AuthnTrace(outcome="not evaluated"),
        authz=AuthzTrace(outcome="denied", reason=f"bad ext_authz request: {problem}"),
    )
    return rbac_denied(trace)


class ExtAuthzDecider:
    """Decides `ExtAuthzRequest`s against the state in force; safe to share between fronts."""

    def __init__(
        self,
        state: ServingState,
        providers: CustomProviders | None = None,
        *,
        max_workloads: int = DEFAULT_MAX_WORKLOADS,
    ) -> None:
        self.state = state
        self.providers = providers or CustomProviders({})
        self.max_workloads = max_workloads
        self._base: Engine | None = None
        self._engines: OrderedDict[WorkloadKey, Engine] = OrderedDict()
        self._lock = asyncio.Lock()

    def decide_now(self, req: ExtAuthzRequest) -> Decision | None:
        """The answer when it needs no waiting (the common case), else None: then await `decide`."""
        if req.problem is not None:
            return bad_request_denial(req.problem)
        engine = self.state.engine if req.workload is None else self._cached(req.workload)
        if engine is None:
            return None
        decision = engine.decide(req.attrs, self.state.keystore.snapshot, self.state.clock())
        return None if waits(decision) else decision

    async def decide(self, req: ExtAuthzRequest) -> Decision:
        """Decide, refetching key sets named by an unknown kid once and consulting a CUSTOM provider."""
        if req.problem is not None:
            return bad_request_denial(req.problem)
        engine = self.state.engine if req.workload is None else await self.engine_for(req.workload)
        state = self.state
        decision = engine.decide(req.attrs, state.keystore.snapshot, state.clock())
        return await settle(decision, req.attrs, engine, state.keystore, state.clock, self.providers)

    def workload_of(self, override: WorkloadOverride) -> Workload:
        base = self.state.workload
        return Workload(
            namespace=override.namespace if override.namespace is not None else base.namespace,
            labels=override.labels if override.labels is not None else base.labels,
            root_namespace=base.root_namespace,
        )

    def _cached(self, override: WorkloadOverride) -> Engine | None:
        """The compiled engine for the caller's workload if there is one already (no waiting)."""
        workload = self.workload_of(override)
        if workload == self.state.workload or self.state.resources is None:
            return self.state.engine
        if self._base is not self.state.engine:  # a reload happened: compiled views are stale
            self._base = self.state.engine
            self._engines.clear()
        key = (workload.namespace, tuple(sorted(workload.labels.items())))
        engine = self._engines.get(key)
        if engine is not None:
            self._engines.move_to_end(key)
        return engine

    async def engine_for(self, override: WorkloadOverride) -> Engine:
        """The engine for the caller's workload, compiled on first use (and its key sets fetched)."""
        engine = self._cached(override)
        if engine is not None:
            return engine
        workload = self.workload_of(override)
        async with self._lock:
            return await self._build((workload.namespace, tuple(sorted(workload.labels.items()))), workload)

    async def _build(self, key: WorkloadKey, workload: Workload) -> Engine:
        from meshgate.engine.engine import Engine

        engine = self._engines.get(key)
        if engine is not None:
            return engine
        assert self.state.resources is not None
        engine = Engine.for_workload(
            self.state.resources, workload, self.state.options, verified_tokens=self.state.verified_tokens
        )
        self._engines[key] = engine
        while len(self._engines) > self.max_workloads:
            self._engines.popitem(last=False)
        known = set(self.state.keystore.uris)
        if any(s.uri not in known for s in engine.jwks_sources()):
            wanted = [
                *self.state.engine.jwks_sources(),
                *(s for e in self._engines.values() for s in e.jwks_sources()),
            ]
            await self.state.keystore.update_sources(wanted)
        return engine

    def record(self, req: ExtAuthzRequest, decision: Decision, started: float, protocol: str) -> None:
        """Count the answer and write one access-log line for the original request."""
        duration = time.perf_counter() - started
        start = self.state.clock() - duration
        self.state.metrics.observe_request(decision, decision.status, duration)
        attrs = req.attrs
        self.state.decisions.append((start, "ext_authz", attrs.method, attrs.path, decision.status, decision))
        self.state.access_log.log(
            AccessLogEntry(
                start_time=start,
                method=attrs.method,
                path=attrs.path,
                protocol=protocol,
                response_code=decision.status,
                duration_ms=int(duration * 1000),
                xff=attrs.header("x-forwarded-for"),
                user_agent=attrs.header("user-agent"),
                request_id=attrs.header("x-request-id"),
                authority=attrs.authority,
                reason=decision.reason,
            )
        )
