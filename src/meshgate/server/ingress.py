"""meshgate as the ingress: the routing table of its own gateway workload and the destination workloads'
engines, built with the configuration and put in force with it.

Istio applies policies at two hops: the ingress gateway's Envoy (meshgate's own `--namespace`/`--labels`,
the engine in `ServingState.engine`), then the sidecar of the workload the route sends the request to. Each
destination workload (a ServiceEntry's namespace and an endpoint's labels, routing/action.py Upstream) gets
its engine compiled here, once per configuration, sharing the process's verified-token cache; its key sets
are fetched with the gateway's before anything listens. No Gateway selecting the workload: no Ingress, and
`serve` fronts one upstream as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meshgate.authn.verified_tokens import VerifiedTokens
from meshgate.config.model import ResourceSet, Workload
from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.options import EngineOptions
from meshgate.errors import ConfigError, Problem
from meshgate.routing.action import Cluster, Forward, ForwardAction, Upstream
from meshgate.routing.table import RoutingTable, build_routing_table

if TYPE_CHECKING:
    from meshgate.engine.engine import Engine, JwksSource

WorkloadKey = tuple[str, tuple[tuple[str, str], ...]]
ORIGINAL_PATH = "x-envoy-original-path"  # Envoy's router after a path rewrite (docs/routing.md)
ORIGINAL_HOST = "x-envoy-original-host"  # ... after a host rewrite


def workload_key(workload: Workload) -> WorkloadKey:
    return workload.namespace, tuple(sorted(workload.labels.items()))


@dataclass(frozen=True, slots=True)
class Ingress:
    """One configuration's routing table and the engines of the workloads it routes to."""

    table: RoutingTable
    engines: Mapping[WorkloadKey, Engine]
    warnings: tuple[Problem, ...] = ()
    # whether a route has a condition on a request header (else routing needs none: they are not built)
    reads_headers: bool = True
    # engines with no rule at all: their hop only normalizes the path (server/ingress.py callers skip it)
    trivial: frozenset[int] = frozenset()

    def engine_for(self, workload: Workload) -> Engine:
        return self.engines[workload_key(workload)]

    def is_trivial(self, engine: Engine) -> bool:
        return id(engine) in self.trivial

    def jwks_sources(self) -> tuple[JwksSource, ...]:
        seen: dict[str, JwksSource] = {}
        for engine in self.engines.values():
            for source in engine.jwks_sources():
                seen.setdefault(source.uri, source)
        return tuple(seen.values())

    def clusters(self) -> Iterator[Cluster]:
        """Every cluster a route of the table can send to (each once)."""
        seen: set[str] = set()
        for listener in self.table.listeners:
            for chain in listener.chains:
                for vhost in chain.route_config.virtual_hosts:
                    for route in vhost.routes:
                        if not isinstance(route.action, ForwardAction):
                            continue
                        for entry in route.action.clusters:
                            if entry.cluster is not None and entry.cluster.name not in seen:
                                seen.add(entry.cluster.name)
                                yield entry.cluster


def build_ingress(
    resources: ResourceSet,
    gateway: Workload,
    options: EngineOptions,
    verified_tokens: VerifiedTokens,
    previous: Ingress | None = None,
) -> Ingress | None:
    """The Ingress of `resources` for the gateway workload, or None when no Gateway selects it.

    Raises ConfigError with the table's `file:line` errors (unknown gateway, host or credentialName,
    overlapping ports...): such a configuration is refused whole, at startup as on reload.
    """
    from meshgate.engine.engine import Engine

    build = build_routing_table(resources, gateway)
    errors = [p for p in build.problems if not p.warning]
    if errors:
        raise ConfigError(errors)
    if build.table is None:
        return None
    ingress = Ingress(build.table, {}, tuple(p for p in build.problems if p.warning))
    engines: dict[WorkloadKey, Engine] = {}
    for cluster in ingress.clusters():
        for upstream in cluster.endpoints:
            key = workload_key(upstream.workload)
            if key not in engines:
                before = previous.engines.get(key) if previous is not None else None
                engines[key] = Engine.for_workload(
                    resources, upstream.workload, options, verified_tokens=verified_tokens, previous=before
                )
    trivial = frozenset(
        id(e) for e in engines.values() if not e.request_authentications and not e.authorization_policies
    )
    return Ingress(build.table, engines, ingress.warnings, _reads_headers(build.table), trivial)


def _reads_headers(table: RoutingTable) -> bool:
    """Pseudo-header conditions (`:method`, `:authority`, `:scheme`) read the request's own fields."""
    return any(
        not header.name.startswith(":")
        for listener in table.listeners
        for chain in listener.chains
        for vhost in chain.route_config.virtual_hosts
        for route in vhost.routes
        for header in route.matcher.headers
    )


def forwarded_headers(seen: list[tuple[str, str]], forward: Forward) -> list[tuple[str, str]]:
    """The headers the gateway sends on: `seen` (after its jwt_authn) with the route's header edits, the
    rewritten authority as `host`, and Envoy's x-envoy-original-* headers."""
    headers = forward.request_headers.apply(seen) if forward.request_headers.stages else list(seen)
    if forward.original_authority is not None or all(n != "host" for n, _ in headers):
        headers = [(n, v) for n, v in headers if n != "host"]
        headers.insert(0, ("host", forward.authority))
    if forward.original_path is not None:
        headers.append((ORIGINAL_PATH, forward.original_path))
    if forward.original_authority is not None:
        headers.append((ORIGINAL_HOST, forward.original_authority))
    return headers


def sidecar_attributes(
    method: str,
    forward: Forward,
    upstream: Upstream,
    headers: list[tuple[str, str]],
    hop: tuple[str, str, str],
) -> RequestAttributes:
    """The request as the destination's sidecar receives it from the gateway: rewritten path and
    authority, the gateway's and the route's header edits, x-forwarded-for with the client appended and
    x-forwarded-proto set (as the gateway sends them); its peer is the gateway, its local address the
    endpoint, its scheme its own connection's (hop_scheme). `hop`: (client ip, gateway ip, the gateway's
    downstream scheme)."""
    pairs = [(n, v) for n, v in headers if n not in ("x-forwarded-for", "x-forwarded-proto")]
    grouped = build_headers(pairs)
    return _sidecar(
        method, forward, upstream, grouped, [v for n, v in headers if n == "x-forwarded-for"], hop
    )


def sidecar_attributes_of(
    method: str,
    forward: Forward,
    upstream: Upstream,
    received: Mapping[str, tuple[str, ...]],
    gateway_edits: tuple[frozenset[str], Sequence[tuple[str, str]]],
    hop: tuple[str, str, str],
) -> RequestAttributes:
    """`sidecar_attributes` for a route without header edits or host rewrite, from the request's grouped
    headers (`received`), the names the gateway removed and the headers it set (claims, original path)."""
    removed, added = gateway_edits
    grouped = {k: v for k, v in received.items() if k not in removed and k not in _FORWARDING}
    for name, value in added:
        grouped[name] = (*grouped.get(name, ()), value)
    return _sidecar(method, forward, upstream, grouped, list(received.get("x-forwarded-for", ())), hop)


_FORWARDING = ("x-forwarded-for", "x-forwarded-proto")


def _sidecar(
    method: str,
    forward: Forward,
    upstream: Upstream,
    grouped: dict[str, tuple[str, ...]],
    chain: list[str],
    hop: tuple[str, str, str],
) -> RequestAttributes:
    client_ip, gateway_ip, scheme = hop
    grouped["x-forwarded-for"] = (",".join([*(v.strip() for v in chain if v.strip()), client_ip]),)
    grouped["x-forwarded-proto"] = (scheme,)
    return RequestAttributes(
        method=method, path=forward.path, authority=forward.authority, scheme=hop_scheme(upstream),
        headers=grouped, peer_ip=gateway_ip, local_port=upstream.port, local_ip=upstream.address,
    )  # fmt: skip


def hop_scheme(upstream: Upstream) -> str:
    """The scheme the destination's sidecar sees: that of its own connection (Envoy's HTTP/1 codec), which
    the gateway opens with Istio's mutual TLS only to an endpoint labelled `security.istio.io/tlsMode: istio`
    (auto mTLS: istio/istio:pilot/pkg/xds/endpoints/mtls_checker.go); plain text otherwise (a 401's realm then
    says http://, observed with two Envoy 1.40s)."""
    return "https" if upstream.workload.labels.get(TLS_MODE_LABEL) == "istio" else "http"


TLS_MODE_LABEL = "security.istio.io/tlsMode"  # istio/istio:pkg/config/constants (model.TLSModeLabelName)
