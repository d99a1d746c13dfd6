"""The routing table of one gateway workload: listeners, filter chains by SNI, virtual hosts, routes.

Built as istiod builds an ingress gateway's listeners and routes (istio/istio pilot/pkg/model/gateway.go
mergeGateways, pilot/pkg/networking/core/gateway.go buildGatewayHTTPRouteConfig, pilot/pkg/model/
push_context.go mergeGateways/VirtualServicesForGateway, route/route.go BuildHTTPRoutesForVirtualService):
the Gateways whose selector matches the workload's labels, in any namespace; plain HTTP servers of a port
share one route configuration, each HTTPS server (tls.mode SIMPLE) is a filter chain with its own, selected by
SNI. Envoy picks the virtual host (envoyproxy/envoy source/common/router/config_impl.cc findVirtualHost: port
stripped, exact, then longest `*suffix`, then longest `prefix*`, then `*`) and the first matching route.
Building is pure and synchronous; deciding a request (RoutingTable.route) reads nothing but its arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from meshgate.config.model import ResourceSet, Workload
from meshgate.config.networking import hosts
from meshgate.config.networking.crosscheck import credential_key, server_class
from meshgate.config.networking.model import Gateway, Server
from meshgate.config.select import selector_matches
from meshgate.errors import Problem
from meshgate.routing.action import HeaderEdits, RouteDecision, RouteRef
from meshgate.routing.compile import CompiledRoute, RouteCompiler
from meshgate.routing.match import Request
from meshgate.routing.route_config import RouteConfig, VirtualHost, _default_random


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    secret: str  # ns/name
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class FilterChain:
    route_config: RouteConfig
    server_names: tuple[str, ...] = ()  # SNI names this chain serves; empty: any (and no SNI)
    tls: TlsMaterial | None = None
    servers: tuple[str, ...] = ()  # "ns/gateway servers[i] (file:line)"


@dataclass(frozen=True, slots=True)
class Listener:
    port: int
    bind: str
    chains: tuple[FilterChain, ...]

    @property
    def tls(self) -> bool:
        return self.chains[0].tls is not None

    def chain(self, sni: str | None) -> FilterChain | None:
        """Envoy's filter chain match on server_names: exact, then the longest `*.suffix`, then a chain with none."""
        if not sni and len(self.chains) == 1:  # the common plain listener: one chain, no name to match
            return None if self.chains[0].server_names else self.chains[0]
        name = (sni or "").lower()
        labels = name.split(".")
        candidates = [name] + ["*." + ".".join(labels[i:]) for i in range(1, len(labels))] if name else []
        for candidate in candidates:
            for chain in self.chains:
                if candidate in chain.server_names:
                    return chain
        return next((c for c in self.chains if not c.server_names), None)


@dataclass(frozen=True, slots=True)
class RoutingTable:
    workload: Workload
    listeners: tuple[Listener, ...]

    by_port: dict[int, Listener] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for listener in self.listeners:
            self.by_port.setdefault(listener.port, listener)

    def listener(self, port: int) -> Listener | None:
        return self.by_port.get(port)

    def route(self, request: Request, random: Callable[[], int] = _default_random) -> RouteDecision:
        """The whole walk for one request: listener by port, filter chain by SNI, then its route configuration."""
        listener = self.listener(request.port)
        chain = listener.chain(request.sni) if listener is not None else None
        if chain is None:
            return RouteDecision("no_listener")
        return chain.route_config.route(request, random)

    def select(self, request: Request) -> CompiledRoute | None:
        """RouteConfig.select through the listener and filter chain."""
        listener = self.by_port.get(request.port)
        chain = listener.chain(request.sni) if listener is not None else None
        return chain.route_config.select(request) if chain is not None else None


@dataclass(frozen=True, slots=True)
class RoutingBuild:
    table: (
        RoutingTable | None
    )  # None: no Gateway selects the workload (meshgate fronts one upstream, as before)
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(not p.warning for p in self.problems)


def build_routing_table(resources: ResourceSet, workload: Workload) -> RoutingBuild:
    """The table for the gateway workload `workload`; problems are `file:line` (errors refuse the config)."""
    gateways = [g for g in resources.gateways if selector_matches(g.selector, workload.labels)]
    if not gateways:
        return RoutingBuild(None)
    problems: list[Problem] = []
    compiler = RouteCompiler(resources, workload, problems)
    plain: dict[tuple[int, str], list[tuple[Gateway, Server]]] = {}
    secure: dict[tuple[int, str], list[FilterChain]] = {}
    for gateway in sorted(gateways, key=lambda g: g.creation_index):
        for server in gateway.servers:
            key, served = (server.port.number, server.bind), _served(gateway, server, problems)
            if served and key in (secure if served == "HTTP" else plain):
                taken = "HTTPS" if served == "HTTP" else "HTTP"
                msg = f"port {key[0]} is already served as {taken}: {_where(gateway, server)} is skipped"
                problems.append(Problem(gateway.source.file, server.line, msg))
            elif served == "HTTP":
                plain.setdefault(key, []).append((gateway, server))
            elif served == "HTTPS":
                chain = _https_chain(gateway, server, resources, compiler)
                if chain is not None:
                    secure.setdefault(key, []).append(chain)
    listeners = [
        Listener(port, bind, (_http_chain(port, servers, compiler),))
        for (port, bind), servers in plain.items()
    ]
    listeners += [Listener(port, bind, tuple(chains)) for (port, bind), chains in secure.items()]
    table = RoutingTable(workload, tuple(sorted(listeners, key=lambda lst: lst.port)))
    return RoutingBuild(table, tuple(problems))


def _http_chain(port: int, servers: list[tuple[Gateway, Server]], compiler: RouteCompiler) -> FilterChain:
    """Every plain-text HTTP server of a port shares one route configuration, `http.<port>`."""
    config = _route_config(f"http.{port}", servers, compiler)
    return FilterChain(config, servers=tuple(_where(g, s) for g, s in servers))


def _https_chain(
    gateway: Gateway, server: Server, resources: ResourceSet, compiler: RouteCompiler
) -> FilterChain | None:
    """An HTTPS server: its own route configuration, its certificate, SNI = its hosts (`*`: any name)."""
    tls = _tls(gateway, server, resources, compiler.workload, compiler.problems)
    if tls is None:
        return None
    name = f"https.{server.port.number}.{server.port.name}.{gateway.name}.{gateway.namespace}"
    sni = sorted({h.partition("/")[2] or h for h in server.hosts})
    config = _route_config(name, [(gateway, server)], compiler)
    return FilterChain(config, () if "*" in sni else tuple(sni), tls, (_where(gateway, server),))


def _where(gateway: Gateway, server: Server) -> str:
    return f"{gateway.namespace}/{gateway.name} servers[{server.index}] ({gateway.source.file}:{server.line})"


def _served(gateway: Gateway, server: Server, problems: list[Problem]) -> str:
    """ "HTTP", "HTTPS", or "" with a warning: meshgate terminates plain HTTP and HTTPS with tls.mode SIMPLE."""
    kind = server_class(server)
    if kind == "HTTP":
        return "HTTP"
    if server.port.protocol.lower() == "https" and server.tls is not None and server.tls.mode == "SIMPLE":
        return "HTTPS"
    mode = f" tls.mode {server.tls.mode}" if server.tls else ""
    msg = f"meshgate serves HTTP and HTTPS (tls.mode SIMPLE) servers: this {server.port.protocol}{mode} server of"
    problems.append(
        Problem(
            gateway.source.file, server.line, f"{msg} {_where(gateway, server)} is not served", warning=True
        )
    )
    return ""


def _tls(
    gateway: Gateway, server: Server, resources: ResourceSet, workload: Workload, problems: list[Problem]
) -> TlsMaterial | None:
    tls = server.tls
    name = tls.credential_name if tls is not None else ""
    line = (tls.credential_line if tls is not None else 0) or server.line
    key = credential_key(name, workload.namespace) if name else None
    secret = next((s for s in resources.secrets if key and (s.namespace, s.name) == key and s.cert_pem), None)
    if secret is None or key is None:
        why = (
            "serves HTTPS only from a credentialName Secret"
            if not name
            else f"finds no certificate Secret {key[0] if key else '?'}/{key[1] if key else name}"
        )
        msg = f"meshgate {why}: istiod reads credentialName in the gateway workload's namespace ({workload.namespace})"
        problems.append(Problem(gateway.source.file, line, msg))
        return None
    return TlsMaterial(f"{secret.namespace}/{secret.name}", secret.cert_pem, secret.key_pem)


def _route_config(name: str, servers: list[tuple[Gateway, Server]], compiler: RouteCompiler) -> RouteConfig:
    """buildGatewayHTTPRouteConfig: per server, each VirtualService bound to its gateway whose hosts intersect the
    server's adds its routes to a virtual host per intersecting host; catch-all routes go last (SortVHostRoutes)."""
    vhosts: dict[str, tuple[list[CompiledRoute], list[bool]]] = {}
    for gateway, server in servers:
        gw_name = f"{gateway.namespace}/{gateway.name}"
        redirect = bool(server.tls and server.tls.https_redirect)
        sanitized = hosts.sanitize_server_hosts(server.hosts, gateway.namespace)
        for vs in compiler.virtual_services_for(gw_name):
            vs_hosts = [hosts.resolve_shortname(h, vs.namespace) for h in vs.hosts]
            shared = hosts.intersection(hosts.names_for_namespace(sanitized, vs.namespace), vs_hosts)
            routes = (
                compiler.routes(vs, server.port.number, gw_name, is_tls=server.tls is not None)
                if shared
                else []
            )
            for host in (h.lower() for h in shared if routes):
                entry = vhosts.setdefault(host, ([], [False]))
                entry[0].extend(routes)
                entry[1][0] = entry[1][0] or redirect
        for host in (h.lower() for h in sanitized if redirect):
            vhosts.setdefault(host, ([], [False]))[1][0] = True
    if not vhosts:
        return RouteConfig(name, (VirtualHost(f"blackhole:{servers[0][1].port.number}", ("*",)),))
    port = servers[0][1].port.number
    built = [VirtualHost(f"{host}:{port}", (host,), tuple([r for r in routes if not r.matcher.catch_all] +
                                                         [r for r in routes if r.matcher.catch_all]), flag[0])
             for host, (routes, flag) in sorted(vhosts.items())]  # fmt: skip
    return RouteConfig(name, tuple(built))


__all__ = ["HeaderEdits", "RouteRef", "RoutingBuild", "RoutingTable", "build_routing_table"]
