"""The routing in force for `/config_dump` (meshgate as the ingress): listeners, filter chains by SNI,
virtual hosts and routes, each route with its VirtualService rule's `file:line`, and the destination
workloads whose policies guard the endpoints. A chain names its certificate Secret, never its key."""

from __future__ import annotations

from typing import Any

from meshgate.routing.action import ForwardAction, RedirectAction
from meshgate.routing.compile import CompiledRoute
from meshgate.routing.table import FilterChain, Listener
from meshgate.server.ingress import Ingress


def routes_view(ingress: Ingress | None) -> dict[str, Any] | None:
    if ingress is None:
        return None
    destinations = [
        {
            "workload": {"namespace": key[0], "labels": dict(key[1])},
            "request_authentications": [f"{r.namespace}/{r.name}" for r in engine.request_authentications],
            "authorization_policies": [f"{p.namespace}/{p.name}" for p in engine.authorization_policies],
        }
        for key, engine in ingress.engines.items()
    ]
    return {
        "listeners": [_listener(listener) for listener in ingress.table.listeners],
        "destinations": destinations,
        "warnings": [str(p) for p in ingress.warnings],
    }


def _listener(listener: Listener) -> dict[str, Any]:
    return {"port": listener.port, "bind": listener.bind or None, "tls": listener.tls,
            "chains": [_chain(c) for c in listener.chains]}  # fmt: skip


def _chain(chain: FilterChain) -> dict[str, Any]:
    config = chain.route_config
    return {
        "server_names": list(chain.server_names),
        "certificate_secret": chain.tls.secret if chain.tls is not None else None,
        "servers": list(chain.servers),
        "route_config": config.name,
        "virtual_hosts": [
            {
                "name": v.name,
                "domains": list(v.domains),
                "https_redirect": v.require_tls,
                "routes": [_route(r) for r in v.routes],
            }
            for v in config.virtual_hosts
        ],
    }


def _route(route: CompiledRoute) -> dict[str, Any]:
    ref, matcher, action = route.ref, route.matcher, route.action
    out: dict[str, Any] = {
        "virtual_service": ref.virtual_service,
        "http": ref.http_index,
        "match": ref.match_index,
        "name": ref.name or None,
        "source": f"{ref.file}:{ref.line}",
        "path": {
            matcher.path_kind: matcher.path.value
            or (matcher.path.regex.pattern if matcher.path.regex else "")
        },
        "headers": [h.name for h in matcher.headers],
        "query_params": [name for name, _ in matcher.query],
    }
    if isinstance(action, ForwardAction):
        out["forward"] = {
            "clusters": [
                {"cluster": c.cluster.name if c.cluster else None, "weight": c.weight,
                 "endpoints": [f"{u.address}:{u.port}" for u in c.cluster.endpoints] if c.cluster else []}
                for c in action.clusters
            ],
            "prefix_rewrite": action.prefix_rewrite or None,
            "host_rewrite": action.host_rewrite or None,
            "timeout_s": action.timeout_s,
        }  # fmt: skip
    elif isinstance(action, RedirectAction):
        out["redirect"] = {"status": action.status, "scheme": action.scheme or None, "host": action.host or None,
                           "port": action.port or None, "path": action.path or None}  # fmt: skip
    else:
        out["direct_response"] = {"status": action.status, "body_bytes": len(action.body)}
    return out
