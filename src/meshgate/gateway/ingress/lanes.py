"""The ingress's common case, precomputed: a route that changes nothing but where the request goes.

A route whose action is one destination without header edits, host rewrite or path rewrite, whose
endpoints are workloads with no policy at all, forwards the request exactly as the general path of
gateway/ingress/routed.py would (the received headers with the gateway's jwt_authn edits, the path as the
destination's hop normalizes it, the route's response edits and timeout): a Lane holds what that needs, built
once per route and configuration, so such a request costs a route match and a few lookups.

`Lanes` finds a request's lane without building a routing Request: on a listener with one filter chain for
every SNI, the virtual host by authority (remembered), then its head alternation on the path
(routing/route_config.py) — the route `RoutingTable.select` would choose, for the head's routes read
nothing but the path. Anything else (no head match, https redirect, several chains) goes the general way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from meshgate.engine.options import PathNormalization
from meshgate.gateway.router import RawHeaders
from meshgate.routing.action import Cluster, ForwardAction, RouteRef, Upstream
from meshgate.routing.compile import CompiledRoute
from meshgate.routing.route_config import RouteConfig, VirtualHost
from meshgate.server.ingress import Ingress


@dataclass(frozen=True, slots=True)
class Lane:
    cluster: Cluster
    cluster_name: str  # Istio's `outbound|port||host` (a property of Cluster: built once here)
    route_name: str | None
    timeout_s: float | None
    edit_response: Callable[[RawHeaders], RawHeaders] | None
    addresses: dict[int, str]  # id(endpoint) → %UPSTREAM_HOST%
    normalization: PathNormalization  # how the destination's hop normalizes the path (all share the options)
    only: Upstream | None = None  # the cluster's one endpoint (no turn to take)


NOT_BUILT = Lane.__new__(Lane)  # a route whose Lane was not built yet
MAX_AUTHORITIES = 1024  # authorities whose virtual host is remembered (then forgotten all at once)
# A virtual host's head: its alternation's `match`, and per branch (lastindex) the route's Lane or None.
Head = tuple[Callable[[str], "re.Match[str] | None"], tuple["Lane | None", ...]]
UNSEEN: Head = (re.compile("(?!)").match, ())  # an authority or virtual host not looked at yet


class Lanes:
    """One configuration's lanes on one listener (its port and scheme)."""

    __slots__ = ("by_vhost", "config", "editor", "heads", "ingress", "lanes", "redirects")

    def __init__(
        self,
        ingress: Ingress,
        port: int,
        scheme: str,
        editor: Callable[..., Callable[[RawHeaders], RawHeaders] | None],
    ) -> None:
        self.ingress, self.editor = ingress, editor
        listener = ingress.table.listener(port)
        only = listener.chains[0] if listener is not None and len(listener.chains) == 1 else None
        # one chain without server names serves every SNI (Listener.chain): its routes do not depend on it
        self.config: RouteConfig | None = only.route_config if only and not only.server_names else None
        self.redirects = scheme != "https"  # a vhost requiring TLS redirects this listener's requests
        self.heads: dict[str | None, Head | None] = {}  # authority → its virtual host's head
        self.by_vhost: dict[int, Head | None] = {}  # id(VirtualHost) → its head (None: no fast path)
        self.lanes: dict[int, Lane | None] = {}  # id(CompiledRoute) → its Lane (None: the general path)

    def find(self, authority: str | None, path: str) -> Lane | None:
        """The lane of the route the request takes; None: the general path decides it."""
        head = self.heads.get(authority, UNSEEN)
        if head is UNSEEN:
            head = self._head(authority)
        if head is None:
            return None
        found = head[0](path)
        return head[1][found.lastindex or 0] if found is not None else None

    def _head(self, authority: str | None) -> Head | None:
        if len(self.heads) >= MAX_AUTHORITIES:
            self.heads.clear()
        vhost = self.config.find(authority) if self.config is not None else None
        head = self.by_vhost.get(id(vhost), UNSEEN) if vhost is not None else None
        if head is UNSEEN and vhost is not None:
            head = self.by_vhost[id(vhost)] = self._build(vhost)
        self.heads[authority] = head
        return head

    def _build(self, vhost: VirtualHost) -> Head | None:
        if vhost.head is None or (vhost.require_tls and self.redirects):
            return None
        return vhost.head.match, tuple(self.of(r) if r is not None else None for r in vhost.head_routes)

    def of(self, route: CompiledRoute) -> Lane | None:
        """The lane of a route the general path selected."""
        lane = self.lanes.get(id(route), NOT_BUILT)
        if lane is NOT_BUILT:
            lane = self.lanes[id(route)] = lane_for(route, self.ingress, self.editor)
        return lane


def lane_for(
    route: CompiledRoute,
    ingress: Ingress,
    editor: Callable[..., Callable[[RawHeaders], RawHeaders] | None],
) -> Lane | None:
    """The route's Lane, or None when it needs the general path."""
    action = route.action
    if not isinstance(action, ForwardAction) or len(action.clusters) != 1:
        return None
    entry = action.clusters[0]
    cluster = entry.cluster
    if cluster is None or not cluster.endpoints:
        return None
    if action.request_headers.stages or entry.request_headers.stages or entry.host_rewrite:
        return None
    if action.host_rewrite or action.prefix_rewrite or action.regex_rewrite is not None:
        return None
    engines = [ingress.engine_for(u.workload) for u in cluster.endpoints]
    modes = {e.options.path_normalization for e in engines}
    if not all(ingress.is_trivial(e) for e in engines) or len(modes) != 1:
        return None
    response = action.response_headers.then(entry.response_headers)
    addresses = {id(u): address(u) for u in cluster.endpoints}
    only = cluster.endpoints[0] if len(cluster.endpoints) == 1 else None
    return Lane(cluster, cluster.name, _name(route.ref), action.timeout_s, editor(response), addresses,
                modes.pop(), only)  # fmt: skip


def _name(ref: RouteRef) -> str | None:
    return ref.name or None


def address(upstream: Upstream) -> str:
    """%UPSTREAM_HOST%: the endpoint's address and port (an IPv6 address in brackets)."""
    host = upstream.address
    return f"[{host}]:{upstream.port}" if ":" in host else f"{host}:{upstream.port}"
