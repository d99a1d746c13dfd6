"""The ingress's common case, precomputed: a route that changes nothing but where the request goes.

A route whose action is one destination without header edits, host rewrite or path rewrite, whose
endpoints are workloads with no policy at all, forwards the request exactly as the general path of
gateway/ingress/routed.py would (the received headers with the gateway's jwt_authn edits, the path as the
destination's hop normalizes it, the route's response edits and timeout): a Lane holds what that needs, built
once per route and configuration, so such a request costs a route match and a few lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from meshgate.engine.options import PathNormalization
from meshgate.gateway.router import RawHeaders
from meshgate.routing.action import Cluster, ForwardAction, RouteRef, Upstream
from meshgate.routing.compile import CompiledRoute
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
    addresses = {id(u): _address(u) for u in cluster.endpoints}
    return Lane(
        cluster, cluster.name, _name(route.ref), action.timeout_s, editor(response), addresses, modes.pop()
    )


def _name(ref: RouteRef) -> str | None:
    return ref.name or None


def _address(upstream: Upstream) -> str:
    host = upstream.address
    return f"[{host}]:{upstream.port}" if ":" in host else f"{host}:{upstream.port}"
