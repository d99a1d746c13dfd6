"""`meshgate check` when Gateways select the workload: the whole walk of a request through the ingress.

As Istio would take it: the gateway hop (the workload's own policies) on the request as sent; then the
route (which VirtualService, which `http[]` rule and `match[]` entry, at which `file:line`) on the request
as the gateway's jwt_authn left it; then the destination workload's hop on the request as the gateway
forwards it (server/ingress.py builds it exactly as `meshgate serve` does). Weighted destinations are
picked with a random draw, as Envoy would; a cluster's first endpoint stands for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.decision import Decision
from meshgate.engine.engine import Engine
from meshgate.engine.explain import KeySetReport, decision_to_json, format_decision
from meshgate.errors import EXIT_FAILED, EXIT_OK
from meshgate.jose.keys import KeySet
from meshgate.routing.action import RouteDecision, RouteRef
from meshgate.routing.match import Request
from meshgate.server.ingress import Ingress, forwarded_headers, sidecar_attributes

GATEWAY_IP = "127.0.0.1"  # the gateway as the sidecar's peer (meshgate runs both hops in one process)


def walk(
    attrs: RequestAttributes,
    engine: Engine,
    ingress: Ingress,
    keys: Mapping[str, KeySet],
    now: float,
    outcomes: list[KeySetReport],
    out: TextIO,
    as_json: bool,
) -> int:
    """Decide and explain both hops and the route; exit 0 when the request reaches an upstream."""
    report: dict[str, Any] = {}
    gateway = engine.decide(attrs, keys, now)
    report["gateway"] = decision_to_json(gateway, outcomes)
    text = ["gateway hop (this workload's policies):", _indent(format_decision(gateway, outcomes))]
    final: Decision | None = gateway if not gateway.allowed else None
    if gateway.allowed and gateway.upstream is not None:
        edits = gateway.upstream
        removed = set(edits.remove) | {n for n, _ in edits.set}
        seen = [(n, v) for n, values in attrs.headers.items() if n not in removed for v in values]
        seen += list(edits.set)
        request = Request(
            attrs.local_port, attrs.authority or None, edits.path, attrs.method, seen, attrs.scheme
        )
        route = ingress.table.route(request)
        report["route"] = _route_json(route)
        text += ["route:", _indent(_route_text(route))]
        forward = route.forward
        if forward is not None and forward.cluster.endpoints:
            upstream = forward.cluster.endpoints[0]
            headers = forwarded_headers(seen, forward)
            hop = (attrs.peer_ip, GATEWAY_IP, attrs.scheme)
            sidecar = sidecar_attributes(attrs.method, forward, upstream, headers, hop)
            final = ingress.engine_for(upstream.workload).decide(sidecar, keys, now)
            workload = upstream.workload
            labels = ",".join(f"{k}={v}" for k, v in sorted(workload.labels.items())) or "(no labels)"
            report["destination"] = {"workload": {"namespace": workload.namespace, "labels": workload.labels},
                                     **decision_to_json(final)}  # fmt: skip
            text += [f"destination hop (workload {labels} in namespace {workload.namespace}):",
                     _indent(format_decision(final))]  # fmt: skip
    if as_json:
        import json

        json.dump(report, out, indent=2)
        out.write("\n")
    else:
        out.write("\n".join(text) + "\n")
    return EXIT_OK if final is not None and final.allowed else EXIT_FAILED


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else "" for line in text.rstrip("\n").splitlines())


def _ref(ref: RouteRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"virtual_service": ref.virtual_service, "http": ref.http_index, "match": ref.match_index,
            "name": ref.name or None, "source": f"{ref.file}:{ref.line}"}  # fmt: skip


def _route_json(route: RouteDecision) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": route.outcome, "route": _ref(route.route)}
    if route.forward is not None:
        f = route.forward
        out.update(cluster=f.cluster.name, endpoints=[f"{u.address}:{u.port}" for u in f.cluster.endpoints],
                   path=f.path, authority=f.authority, timeout_s=f.timeout_s)  # fmt: skip
    else:
        out.update(
            status=route.status, headers=dict(route.headers), body=route.body.decode("utf-8", "replace")
        )
    return out


def _route_text(route: RouteDecision) -> str:
    ref = route.route
    where = "no route matches: 404 with an empty body"
    if ref is not None:
        match = f" match[{ref.match_index}]" if ref.match_index is not None else ""
        name = f" ({ref.name})" if ref.name else ""
        where = f"VirtualService {ref.virtual_service} http[{ref.http_index}]{match}{name} at {ref.file}:{ref.line}"
    lines = [where]
    f = route.forward
    if f is not None:
        endpoints = ", ".join(f"{u.address}:{u.port}" for u in f.cluster.endpoints) or "none: 503"
        lines.append(f"forward to {f.cluster.name} ({endpoints}) as {f.path} for {f.authority}")
    elif route.outcome != "no_route":
        lines.append(
            f"{route.outcome}: {route.status} {dict(route.headers)} {route.body.decode('utf-8', 'replace')}"
        )
    return "\n".join(lines)
