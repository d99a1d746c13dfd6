"""meshgate as the ingress: the route step between the gateway hop and the upstream (gateway/router.py).

The gateway hop (meshgate's own policies) has allowed the request. As Istio's ingress Envoy then its
destination's sidecar would, this router (1) routes the request as the gateway's jwt_authn left it (a token
its RequestAuthentication removed is gone, its claim headers are there) with the routing table in force
(server/ingress.py, routing/), (2) applies the route's rewrites and header edits, (3) decides the
destination workload's policies on the request as the gateway forwards it, then (4) sends it to the next
endpoint of the cluster. Local answers keep Envoy's layout: 404 with an empty body when no route matches,
redirects, direct responses, 503 for a cluster without endpoints, the sidecar's 401/403 with the route's
response header edits.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Callable, Sequence

from meshgate.engine.decision import Decision
from meshgate.gateway.context import GatewayContext
from meshgate.gateway.deadlines import DeadlineSweep
from meshgate.gateway.heads import removal_names
from meshgate.gateway.ingress.pools import EndpointPools
from meshgate.gateway.router import LocalAnswer, RawHeaders, Routable, Step, ToUpstream
from meshgate.routing.action import Forward, HeaderEdits, RouteDecision, RouteRef, Upstream
from meshgate.routing.match import Request
from meshgate.server.decide import settle, waits
from meshgate.server.ingress import forwarded_headers, sidecar_attributes

log = logging.getLogger("meshgate.gateway")

NO_HEALTHY_UPSTREAM = "no healthy upstream"  # envoyproxy/envoy:source/common/router/router.cc (503, UH)


def _default_random() -> int:
    return _random.getrandbits(64)


class RoutedRouter:
    """The router of one listener (its port and scheme); endpoint pools are the process's."""

    def __init__(
        self,
        ctx: GatewayContext,
        pools: EndpointPools,
        port: int,
        *,
        random: Callable[[], int] = _default_random,
    ) -> None:
        self.ctx = ctx
        self.pools = pools
        self.port = port
        self.random = random
        self.sweeps: dict[float, DeadlineSweep] = {}

    def step(self, ex: Routable, decision: Decision) -> Step | None:
        ingress = self.ctx.state.ingress
        edits = decision.upstream
        assert edits is not None
        if ingress is None:  # this listener's configuration is no longer in force (closing)
            return LocalAnswer(404, "")
        req = ex.req
        seen = _gateway_view(req.raw_headers, self.ctx.removals(edits), edits.set)
        request = Request(
            self.port, req.host or None, edits.path, req.method_str, seen, self.ctx.scheme, ex.conn.sni
        )
        route = ingress.table.route(request, self.random)
        forward = route.forward
        if route.outcome != "forward" or forward is None:
            return _local(route)
        upstream = self.pools.pick(forward.cluster)
        if upstream is None:
            answer = _edited(route.response_headers, ())
            return LocalAnswer(
                503, NO_HEALTHY_UPSTREAM, answer, cluster=forward.cluster.name, route_name=_name(route.route)
            )
        headers = forwarded_headers(seen, forward)
        engine = ingress.engine_for(upstream.workload)
        attrs = sidecar_attributes(
            req.method_str, forward, upstream, headers, ex.conn.local_ip, self.ctx.scheme
        )
        state = self.ctx.state
        sidecar = engine.decide(attrs, state.keystore.snapshot, ex.start)
        if not waits(sidecar):
            return self._forward(route, forward, upstream, headers, sidecar)
        pending = settle(sidecar, attrs, engine, state.keystore, self.ctx.clock, self.ctx.custom_providers)

        def settled(task: asyncio.Task[Decision]) -> None:
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None:
                log.error("deciding at the destination hop failed", exc_info=exc)
                ex.routed(LocalAnswer(503, "", close=True))
                return
            ex.routed(self._forward(route, forward, upstream, headers, task.result()))

        self.ctx.spawn(pending, settled)
        return None

    def _forward(
        self,
        route: RouteDecision,
        forward: Forward,
        upstream: Upstream,
        headers: list[tuple[str, str]],
        sidecar: Decision,
    ) -> Step:
        name = _name(route.route)
        edits = sidecar.upstream
        if not sidecar.allowed or edits is None:
            answer = _edited(route.response_headers, sidecar.headers)
            close = sidecar.status == 400
            return LocalAnswer(
                sidecar.status, sidecar.body, answer, sidecar.content_type, close, forward.cluster.name, name,
                sidecar,
            )  # fmt: skip
        edit_response = _response_editor(forward.response_headers)
        return ToUpstream(
            self.pools.pool(upstream),
            edits.path,
            removal_names(edits.remove, edits.set),
            edits.set,
            [(_enc(n), _enc(v)) for n, v in headers],
            self._sweep(forward.timeout_s),
            edit_response,
            _address(upstream),
            forward.cluster.name,
            name,
            sidecar,
        )

    def _sweep(self, timeout_s: float | None) -> DeadlineSweep | None:
        """The route timeout's deadline sweep (one per distinct timeout); None: the listener's default."""
        if timeout_s is None:
            return None
        sweep = self.sweeps.get(timeout_s)
        if sweep is None:
            sweep = self.sweeps[timeout_s] = DeadlineSweep(timeout_s)
        return sweep

    def close(self) -> None:
        for sweep in self.sweeps.values():
            sweep.close()


def _gateway_view(
    raw: Sequence[tuple[bytes, bytes]], removed: frozenset[bytes], added: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The request headers after the gateway's jwt_authn (token removed unless forwarded, claim headers)."""
    seen = [(n.lower().decode("latin-1"), v.decode("latin-1")) for n, v in raw if n.lower() not in removed]
    return seen + list(added) if added else seen


def _local(route: RouteDecision) -> LocalAnswer:
    """A route's local answer: 404 (no route, no virtual host), 503 (no cluster), redirect, direct response."""
    headers = [(n, v) for n, v in route.headers if n != "content-type"]
    ctype = next((v for n, v in route.headers if n == "content-type"), "text/plain")
    body = route.body.decode("utf-8", "replace")
    cluster = route.forward.cluster.name if route.forward is not None else None
    return LocalAnswer(
        route.status or 404,
        body,
        _edited(route.response_headers, headers),
        ctype,
        False,
        cluster,
        _name(route.route),
    )


def _edited(edits: HeaderEdits, headers: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(edits.apply(headers)) if edits.stages else tuple(headers)


def _response_editor(edits: HeaderEdits) -> Callable[[RawHeaders], RawHeaders] | None:
    if not edits.stages:
        return None

    def edit(headers: RawHeaders) -> RawHeaders:
        pairs = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]
        return [(_enc(n), _enc(v)) for n, v in edits.apply(pairs)]

    return edit


def _name(ref: RouteRef | None) -> str | None:
    return ref.name or None if ref is not None else None


def _address(upstream: Upstream) -> str:
    host = upstream.address
    return f"[{host}]:{upstream.port}" if ":" in host else f"{host}:{upstream.port}"


def _enc(text: str) -> bytes:
    """Header text back to bytes: received bytes round-trip through latin-1; claim values are UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()
