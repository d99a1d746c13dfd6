"""A VirtualService's `http[]` turned into the routes istiod gives one gateway, with destinations resolved.

istio/istio pilot/pkg/networking/core/route/route.go: BuildHTTPRoutesForVirtualService (a route per match,
nothing after a catch-all), TranslateRoute (match.port against the server port, match.gateways or
sourceLabels/sourceNamespace against the gateway workload), applyHTTPRouteDestination (single cluster vs
weighted clusters without the zero weights, host rewrite from rewrite.authority or a header op), and
GetDestinationCluster (destination port, else the ServiceEntry's only port, else the server's port).
pilot/pkg/model/push_context.go VirtualServicesForGateway gives the order of VirtualServices: private to
the workload's namespace, then exported to it, then public, each by creation. A destination resolves
through the ServiceEntry of its host to endpoints and to the workload whose policies guard them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from meshgate.config.model import ResourceSet, Workload
from meshgate.config.networking import hosts
from meshgate.config.networking.model import (
    Headers,
    HttpMatch,
    HttpRoute,
    Redirect,
    RouteDestination,
    ServiceEntry,
    VirtualService,
)
from meshgate.config.networking.re2 import compile_re2
from meshgate.errors import Problem
from meshgate.routing.action import (
    REDIRECT_STATUS,
    Cluster,
    ForwardAction,
    HeaderEdits,
    HeaderStage,
    RedirectAction,
    RouteDecision,
    RouteRef,
    Upstream,
    WeightedCluster,
)
from meshgate.routing.match import Request, RouteMatcher, compile_match

# Port protocols Istio sends upstream over HTTP/2 (istio/istio:pkg/config/protocol/instance.go IsHTTP2;
# protocol names are case-insensitive there).
HTTP2_PROTOCOLS = frozenset({"HTTP2", "GRPC", "GRPC-WEB"})


@dataclass(frozen=True, slots=True)
class DirectAction:
    status: int
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    ref: RouteRef
    matcher: RouteMatcher
    action: ForwardAction | RedirectAction | DirectAction
    response_headers: HeaderEdits = field(default_factory=HeaderEdits)

    def decide(self, request: Request, random: Callable[[], int]) -> RouteDecision:
        matched = len(self.matcher.prefix) if self.matcher.path_kind != "regex" else len(_path(request.path))
        if isinstance(self.action, ForwardAction):
            return self.action.decide(self.ref, request.path, matched, request.authority or "", random)
        if isinstance(self.action, RedirectAction):
            location = self.action.location(request.scheme, request.authority or "", request.path, matched)
            return RouteDecision(
                "redirect",
                self.action.status,
                headers=(("location", location),),
                route=self.ref,
                response_headers=self.response_headers,
            )
        body = self.action.body
        headers = (("content-type", "text/plain"),) if body else ()
        return RouteDecision(
            "direct_response",
            self.action.status,
            body,
            headers,
            self.ref,
            response_headers=self.response_headers,
        )


def _path(path: str) -> str:
    cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=len(path))
    return path[:cut]


def _stage(headers: Headers | None, request: bool) -> tuple[HeaderStage, str]:
    """TranslateHeadersOperations: set → overwrite, add → append, each sorted by name; `:authority`/`host`
    set or add becomes the host rewrite (set wins), other `:`-headers and `host` are dropped."""
    if headers is None:
        return HeaderStage(), ""
    ops = headers.request if request else headers.response
    stage = HeaderStage(
        remove=tuple(n for n in ops.remove if not _internal(n)),
        set=tuple(sorted((p for p in ops.set if not _internal(p[0])), key=lambda p: p[0])),
        add=tuple(sorted((p for p in ops.add if not _internal(p[0])), key=lambda p: p[0])),
    )
    return stage, (_authority(ops.set) or _authority(ops.add)) if request else ""


def _internal(name: str) -> bool:
    return name.startswith(":") or name.lower() == "host"


def _authority(pairs: tuple[tuple[str, str], ...]) -> str:
    """The value an `:authority` or `host` entry sets (the last one: istiod's map iteration keeps one)."""
    return next((v for n, v in reversed(pairs) if n.lower() in (":authority", "host")), "")


class RouteCompiler:
    """Routes of VirtualServices for the gateway workload, memoized per (VirtualService, gateway, port)."""

    def __init__(self, resources: ResourceSet, workload: Workload, problems: list[Problem]) -> None:
        self.resources, self.workload, self.problems = resources, workload, problems
        self._memo: dict[tuple[str, str, int], list[CompiledRoute]] = {}
        self._services: dict[str, ServiceEntry] = {}
        for se in sorted(resources.service_entries, key=lambda s: s.creation_index):
            if hosts.export_rank(se.namespace, se.export_to, workload.namespace) is not None:
                for host in se.hosts:
                    self._services.setdefault(host, se)

    def virtual_services_for(self, gateway: str) -> list[VirtualService]:
        ranked = []
        for vs in self.resources.virtual_services:
            rank = hosts.export_rank(vs.namespace, vs.export_to, self.workload.namespace)
            names = {hosts.resolve_gateway_name(g.name, vs.namespace) for g in vs.gateways}
            if rank is not None and gateway in names:
                ranked.append((rank, vs.creation_index, vs))
        return [vs for _, _, vs in sorted(ranked, key=lambda t: t[:2])]

    def routes(self, vs: VirtualService, port: int, gateway: str, is_tls: bool) -> list[CompiledRoute]:
        key = (f"{vs.namespace}/{vs.name}", gateway, port)
        if key not in self._memo:
            self._memo[key] = self._build(vs, port, gateway, is_tls)
        return self._memo[key]

    def _build(self, vs: VirtualService, port: int, gateway: str, is_tls: bool) -> list[CompiledRoute]:
        out: list[CompiledRoute] = []
        for http in vs.http:
            for j, match in enumerate(http.match or (None,)):
                if not self._applies(match, port, gateway, vs.namespace):
                    continue
                out.append(self._route(vs, http, None if match is None else j, match, port, is_tls))
                if out[-1].matcher.catch_all:
                    return out
        return out

    def _applies(self, match: HttpMatch | None, port: int, gateway: str, namespace: str) -> bool:
        """TranslateRoute's port check and sourceMatchHTTP."""
        if match is None:
            return True
        if match.port and match.port != port:
            return False
        if match.gateways:
            return gateway in {hosts.resolve_gateway_name(g, namespace) for g in match.gateways}
        labels = self.workload.labels
        if any(labels.get(k) != v for k, v in match.source_labels.items()):
            return False
        return match.source_namespace in ("", self.workload.namespace)

    def _route(
        self,
        vs: VirtualService,
        http: HttpRoute,
        j: int | None,
        match: HttpMatch | None,
        port: int,
        is_tls: bool,
    ) -> CompiledRoute:
        line = match.line if match is not None else http.line
        name = http.name + (f".{match.name}" if match is not None and match.name else "")
        ref = RouteRef(f"{vs.namespace}/{vs.name}", http.index, j, vs.source.file, line, name)
        matcher = compile_match(match)
        request, authority = _stage(http.headers, request=True)
        response = HeaderEdits.of(_stage(http.headers, request=False)[0])
        if http.redirect is not None:
            return CompiledRoute(ref, matcher, _redirect(http.redirect, port, is_tls), response)
        if http.direct_response is not None:
            return CompiledRoute(
                ref,
                matcher,
                DirectAction(http.direct_response.status, http.direct_response.body or b""),
                response,
            )
        rewrite = http.rewrite
        if rewrite is not None and rewrite.authority:
            authority = rewrite.authority
        regex = (
            (compile_re2(rewrite.regex_match), rewrite.regex_rewrite)
            if rewrite and rewrite.regex_match
            else None
        )
        clusters, request_edits = self._clusters(vs, http.route, port, request, authority)
        prefix = rewrite.uri if rewrite is not None and regex is None else ""
        action = ForwardAction(clusters, request_edits, response, authority, prefix, regex, http.timeout_s)
        return CompiledRoute(ref, matcher, action, response)

    def _clusters(
        self,
        vs: VirtualService,
        route: tuple[RouteDestination, ...],
        port: int,
        request: HeaderStage,
        authority: str,
    ) -> tuple[tuple[WeightedCluster, ...], HeaderEdits]:
        if len(route) == 1:  # processDestination: the destination's edits join the route's
            dest = route[0]
            extra, dest_authority = _stage(dest.headers, request=True)
            merged = HeaderStage(
                request.remove + extra.remove, request.set + extra.set, request.add + extra.add
            )
            response = HeaderEdits.of(_stage(dest.headers, request=False)[0])
            cluster = WeightedCluster(
                self._cluster(vs, dest, port),
                0,
                HeaderEdits(),
                response,
                dest_authority if not authority else "",
            )
            return (cluster,), HeaderEdits.of(merged)
        weighted = []
        for dest in (d for d in route if d.weight > 0):  # zero weights are dropped
            extra, dest_authority = _stage(dest.headers, request=True)
            edits = HeaderEdits.of(extra)
            response = HeaderEdits.of(_stage(dest.headers, request=False)[0])
            weighted.append(
                WeightedCluster(self._cluster(vs, dest, port), dest.weight, edits, response, dest_authority)
            )
        return tuple(weighted), HeaderEdits.of(request)

    def _cluster(self, vs: VirtualService, dest: RouteDestination, listener_port: int) -> Cluster | None:
        host = hosts.resolve_shortname(dest.destination.host, vs.namespace)
        se = self._services.get(host)
        port = dest.destination.port
        if port is None:
            port = se.ports[0].number if se is not None and len(se.ports) == 1 else listener_port
        service_port = next((p for p in se.ports if p.number == port), None) if se is not None else None
        if se is None or service_port is None:
            why = (
                f"no ServiceEntry visible in namespace {self.workload.namespace} defines it"
                if se is None
                else "no such port"
            )
            msg = f"route to {host}:{port} (outbound|{port}||{host}) has no cluster: {why}; Envoy answers 503"
            self.problems.append(Problem(vs.source.file, dest.destination.line, msg))
            return None
        root = self.workload.root_namespace
        h2 = service_port.protocol.upper() in HTTP2_PROTOCOLS
        if se.endpoints:
            ups = tuple(
                Upstream(
                    e.address,
                    e.ports.get(service_port.name) or service_port.target_port or port,
                    Workload(se.namespace, dict(e.labels), root),
                    h2,
                )
                for e in se.endpoints
            )
        elif se.resolution in ("DNS", "DNS_ROUND_ROBIN"):
            ups = (Upstream(host, service_port.target_port or port, Workload(se.namespace, {}, root), h2),)
        else:
            ups = ()
        return Cluster(host, port, f"{se.namespace}/{se.name}", ups)


def _redirect(r: Redirect, port: int, is_tls: bool) -> RedirectAction:
    """ApplyRedirect: FROM_REQUEST_PORT is the server's port; :80 for http and :443 for https are left out."""
    redirect_port = port if r.derive_port == "FROM_REQUEST_PORT" else (r.port or 0)
    if r.port is not None or r.derive_port:
        scheme = r.scheme or ("https" if is_tls else "http")
        if (redirect_port, scheme) in ((80, "http"), (443, "https")):
            redirect_port = 0
    return RedirectAction(
        REDIRECT_STATUS[r.redirect_code], r.scheme, r.authority, redirect_port, r.uri, r.prefix_rewrite
    )
