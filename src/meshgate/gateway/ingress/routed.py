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
from dataclasses import dataclass

from meshgate.engine.decision import Decision
from meshgate.engine.pathnorm import normalize_path
from meshgate.engine.status import SERVER_NAME
from meshgate.gateway.context import GatewayContext
from meshgate.gateway.deadlines import DeadlineSweep
from meshgate.gateway.h2.grpc_reply import grpc_reply_headers, grpc_request
from meshgate.gateway.heads import NOTHING, removal_names
from meshgate.gateway.ingress.lanes import Lanes, address
from meshgate.gateway.ingress.pools import EndpointPools
from meshgate.gateway.local_reply import DATES
from meshgate.gateway.router import LocalAnswer, RawHeaders, Routable, Step, ToUpstream
from meshgate.routing.action import Forward, HeaderEdits, RouteDecision, RouteRef, Upstream
from meshgate.routing.match import Request
from meshgate.server.decide import settle, waits
from meshgate.server.ingress import (
    ORIGINAL_PATH,
    forwarded_headers,
    sidecar_attributes,
    sidecar_attributes_of,
)

log = logging.getLogger("meshgate.gateway")
SERVICE_TIME_NAME = "x-envoy-upstream-service-time"  # added by the gateway before the route's response edits

NO_HEALTHY_UPSTREAM = "no healthy upstream"  # envoyproxy/envoy:source/common/router/router.cc (503, UH)


def _default_random() -> int:
    return _random.getrandbits(64)


@dataclass(slots=True)
class Sent:
    """What the gateway sends on: the route, its endpoint, and the header edits so far.

    `headers` is None when the received headers go as they are, with `removed` taken off and `added`
    appended (the gateway's jwt_authn edits, x-envoy-original-path); else the rebuilt list (route header
    edits, host rewrite), with the gateway's edits in it already."""

    route: RouteDecision
    forward: Forward
    upstream: Upstream
    headers: list[tuple[str, str]] | None
    removed: frozenset[bytes]
    added: Sequence[tuple[str, str]]
    grpc: bool = False  # a gRPC request: the sidecar's denial is its trailers-only gRPC reply


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
        self.lanes: Lanes | None = None  # the lanes of the configuration in force (built as it comes)

    def step(self, ex: Routable, decision: Decision) -> Step | None:
        ingress = self.ctx.state.ingress
        edits = decision.upstream
        assert edits is not None
        if ingress is None:  # this listener's configuration is no longer in force (closing)
            return LocalAnswer(404, "")
        req = ex.req
        removed = self.ctx.removals(edits)
        lanes = self.lanes
        if lanes is None or lanes.ingress is not ingress:
            lanes = self.lanes = Lanes(ingress, self.port, self.ctx.scheme, _response_editor)
        lane = lanes.find(req.host or None, edits.path)  # a head route's, found on the path alone
        request = None if lane else self._request(ex, edits.path, removed, edits.set, ingress.reads_headers)
        if request is not None:  # the general walk, headers and all
            selected = ingress.table.select(request)
            lane = lanes.of(selected) if selected is not None else None
        if lane is not None:  # gateway/ingress/lanes.py: nothing to change but the destination
            upstream = lane.only or self.pools.pick(lane.cluster)
            assert upstream is not None
            path = normalize_path(edits.path, lane.normalization)
            if path is not None:
                sweep = self._sweep(lane.timeout_s) if lane.timeout_s is not None else None
                return ToUpstream(
                    self.pools.pool(upstream), path, removed, edits.set, None, sweep, lane.edit_response,
                    lane.addresses[id(upstream)], lane.cluster_name, lane.route_name,
                )  # fmt: skip
        request = request or self._request(ex, edits.path, removed, edits.set, ingress.reads_headers)
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
        engine = ingress.engine_for(upstream.workload)
        hop = (ex.conn.peer_ip, ex.conn.local_ip, self.ctx.scheme)
        sent = Sent(route, forward, upstream, None, removed, edits.set, grpc_request(req.attr_headers))
        if forward.request_headers.stages or forward.original_authority is not None:  # headers rebuilt
            seen = list(request.headers) or _gateway_view(req.raw_headers, removed, edits.set)
            sent.headers = forwarded_headers(seen, forward)
            attrs = sidecar_attributes(req.method_str, forward, upstream, sent.headers, hop)
        else:  # the received headers, the gateway's edits, x-envoy-original-path
            if forward.original_path is not None:
                sent.added = (*edits.set, (ORIGINAL_PATH, forward.original_path))
            if ingress.is_trivial(engine):  # no rule at the destination: its hop only normalizes the path
                path = normalize_path(forward.path, engine.options.path_normalization)
                if path is not None:
                    return self._forward(sent, None, path)
            gone = _names(removed)
            attrs = sidecar_attributes_of(
                req.method_str, forward, upstream, req.attr_headers, (gone, sent.added), hop
            )
        state = self.ctx.state
        sidecar = engine.decide(attrs, state.keystore.snapshot, ex.start)
        if not waits(sidecar):
            return self._forward(sent, sidecar)
        pending = settle(sidecar, attrs, engine, state.keystore, self.ctx.clock, self.ctx.custom_providers)

        def settled(task: asyncio.Task[Decision]) -> None:
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None:
                log.error("deciding at the destination hop failed", exc_info=exc)
                ex.routed(LocalAnswer(503, "", close=True))
                return
            ex.routed(self._forward(sent, task.result()))

        self.ctx.spawn(pending, settled)
        return None

    def _forward(self, sent: Sent, sidecar: Decision | None, path: str | None = None) -> Step:
        """The destination hop's answer: its denial (with the route's response edits), or the request sent."""
        route, forward = sent.route, sent.forward
        name = _name(route.route)
        edits = sidecar.upstream if sidecar is not None else None
        if sidecar is not None and (not sidecar.allowed or edits is None):
            status, body, head = self._reply(sidecar, sent.grpc)
            answer = _edited(route.response_headers, [*head, (SERVICE_TIME_NAME, "0")])
            return LocalAnswer(
                status, body, answer, sidecar.content_type, sidecar.status == 400, forward.cluster.name, name,
                sidecar, relayed=True,
            )  # fmt: skip
        drop, added = sent.removed, sent.added
        if edits is not None:
            path = edits.path
            if edits.remove or edits.set:
                dropped = removal_names(edits.remove, edits.set)
                drop = drop | dropped
                added = [*(p for p in added if p[0].encode("latin-1") not in dropped), *edits.set]
        raw = None if sent.headers is None else [(_enc(n), _enc(v)) for n, v in sent.headers]
        if raw is not None:  # the gateway's edits are in the rebuilt headers already
            drop, added = (
                (NOTHING, ()) if edits is None else (removal_names(edits.remove, edits.set), edits.set)
            )
        assert path is not None
        return ToUpstream(
            self.pools.pool(sent.upstream), path, drop, added, raw, self._sweep(forward.timeout_s),
            _response_editor(forward.response_headers), address(sent.upstream), forward.cluster.name, name,
            sidecar,
        )  # fmt: skip

    def denied(self, ex: Routable, decision: Decision) -> tuple[tuple[str, str], ...]:
        """The gateway hop's denial: a forwarding route's response edits apply to it (observed on Envoy 1.40,
        route chosen on the request as received; a direct-response or redirect route's do not)."""
        ingress = self.ctx.state.ingress
        if ingress is None:
            return decision.headers
        req = ex.req
        path = decision.path if decision.path is not None else req.target_str
        request = self._request(ex, path, frozenset(), (), ingress.reads_headers)
        route = ingress.table.route(request, self.random)
        if route.outcome != "forward":
            return decision.headers
        return _edited(route.response_headers, decision.headers)

    def _request(
        self,
        ex: Routable,
        path: str,
        removed: frozenset[bytes],
        added: Sequence[tuple[str, str]],
        headers: bool,
    ) -> Request:
        """What routing reads of the request, its headers as the gateway's jwt_authn left them when asked."""
        req = ex.req
        seen = _gateway_view(req.raw_headers, removed, added) if headers else ()
        return Request(self.port, req.host or None, path, req.method_str, seen, self.ctx.scheme, ex.conn.sni)

    def _reply(self, denial: Decision, grpc: bool) -> tuple[int, str, list[tuple[str, str]]]:
        """The sidecar's local reply as it leaves the sidecar: local_reply.py's layout, or gRPC's trailers-only."""
        tail = [("date", DATES.line(self.ctx.clock())[6:-2].decode("latin-1")), ("server", SERVER_NAME)]
        if grpc:
            head = grpc_reply_headers(denial.status, denial.body, denial.headers, head=False)
            return 200, "", [*head, *tail]
        if not denial.body:
            return denial.status, "", [*denial.headers, *tail, ("content-length", "0")]
        length = str(len(denial.body.encode()))
        return denial.status, denial.body, [*denial.headers, ("content-length", length),
                                            ("content-type", denial.content_type), *tail]  # fmt: skip

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


def _names(removed: frozenset[bytes]) -> frozenset[str]:
    return frozenset(n.decode("latin-1") for n in removed) if removed else frozenset()


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


def _enc(text: str) -> bytes:
    """Header text back to bytes: received bytes round-trip through latin-1; claim values are UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()
