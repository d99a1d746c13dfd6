"""What a matched route does: forward (destination, weights, rewrites, header edits, timeout), redirect, or
answer directly; and the decision routing hands the gateway.

istiod's translation: istio/istio pilot/pkg/networking/core/route/route.go (applyHTTPRouteDestination,
processDestination, processWeightedDestination, ApplyRedirect, ApplyDirectResponse, TranslateHeadersOperations,
GetDestinationCluster). Envoy's behaviour: envoyproxy/envoy source/common/router/config_impl.cc
(currentUrlPathAfterRewriteWithMatchedPath: prefix_rewrite replaces the matched prefix of the path, query
kept; regex_rewrite replaces within the path only), source/common/router/header_parser.cc (evaluateHeaders:
removals, then overwrites, then appends; an empty value is not added), weighted_cluster_specifier.cc
(pickWeightedCluster: random % total weight), source/common/http/utility.cc (newUri, createSslRedirectPath);
The regex_rewrite substitution itself: config/networking/rewrite.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from meshgate.config.model import Workload
from meshgate.config.networking.rewrite import replace_all

Outcome = Literal["forward", "redirect", "direct_response", "no_route", "cluster_not_found", "no_listener"]
REDIRECT_STATUS = {0: 301, 301: 301, 302: 302, 303: 303, 307: 307, 308: 308}  # route.go ApplyRedirect


@dataclass(frozen=True, slots=True)
class HeaderStage:
    """One Envoy HeaderParser: `remove` first, then every `set` (overwrite), then every `add` (append)."""

    remove: tuple[str, ...] = ()
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()

    def apply(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        gone = {name.lower() for name in self.remove}
        out = [(n, v) for n, v in headers if n.lower() not in gone]
        for name, value in self.set:
            if value:
                lower = name.lower()
                out = [(n, v) for n, v in out if n.lower() != lower] + [(lower, value)]
        out += [(name.lower(), value) for name, value in self.add if value]
        return out


@dataclass(frozen=True, slots=True)
class HeaderEdits:
    """Header parsers in the order Envoy evaluates them (route level, then a weighted cluster's own)."""

    stages: tuple[HeaderStage, ...] = ()

    def apply(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        out = list(headers)
        for stage in self.stages:
            out = stage.apply(out)
        return out

    def then(self, other: HeaderEdits) -> HeaderEdits:
        if not other.stages:
            return self
        return HeaderEdits(self.stages + other.stages) if self.stages else other

    @classmethod
    def of(cls, *stages: HeaderStage) -> HeaderEdits:
        """The stages that do something (an empty HeaderParser changes nothing)."""
        return cls(tuple(s for s in stages if s.remove or s.set or s.add))


@dataclass(frozen=True, slots=True)
class Upstream:
    """One endpoint of a destination: where to connect, and the workload whose policies guard it."""

    address: str
    port: int
    workload: Workload
    h2: bool = False  # the ServiceEntry port's protocol is HTTP2, GRPC or GRPC-WEB: HTTP/2 to the endpoint


@dataclass(frozen=True, slots=True)
class Cluster:
    """Istio's `outbound|<port>||<host>`: a ServiceEntry host and port, and its endpoints."""

    host: str
    port: int
    service_entry: str  # ns/name
    endpoints: tuple[Upstream, ...] = ()

    @property
    def name(self) -> str:
        return f"outbound|{self.port}||{self.host}"


@dataclass(frozen=True, slots=True)
class WeightedCluster:
    cluster: (
        Cluster | None
    )  # None: the destination resolves to no cluster (Envoy answers 503, cluster not found)
    weight: int
    request_headers: HeaderEdits = HeaderEdits()
    response_headers: HeaderEdits = HeaderEdits()
    host_rewrite: str = ""


@dataclass(frozen=True, slots=True)
class RouteRef:
    """Which rule chose the request: VirtualService ns/name, the http[] index and match[] index, file:line."""

    virtual_service: str
    http_index: int
    match_index: int | None
    file: str
    line: int
    name: str = ""


@dataclass(slots=True)
class Forward:
    """A request to send upstream, with everything the route changed. Built per request: a plain slots
    record (docs/architecture.md "Values"), never changed once built."""

    cluster: Cluster
    path: str
    authority: str
    request_headers: HeaderEdits
    response_headers: HeaderEdits
    timeout_s: float | None  # None: no route timeout (istiod's default)
    original_path: str | None = None  # set when the path was rewritten (Envoy's x-envoy-original-path)
    original_authority: str | None = None  # set when the authority was rewritten (x-envoy-original-host)


@dataclass(slots=True)
class RouteDecision:
    outcome: Outcome
    status: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()  # response headers of a local answer (location, content-type)
    route: RouteRef | None = None
    forward: Forward | None = None
    response_headers: HeaderEdits = HeaderEdits()  # the route's edits, for a local answer too


NO_ROUTE = RouteDecision("no_route", 404)


@dataclass(frozen=True, slots=True)
class ForwardAction:
    clusters: tuple[WeightedCluster, ...]  # one entry: a plain cluster (its weight is not used)
    request_headers: HeaderEdits
    response_headers: HeaderEdits
    host_rewrite: str = ""
    prefix_rewrite: str = ""
    regex_rewrite: tuple[re.Pattern[str], str] | None = None
    timeout_s: float | None = None

    def pick(self, random: Callable[[], int]) -> WeightedCluster:
        if len(self.clusters) == 1:
            return self.clusters[0]
        total = sum(c.weight for c in self.clusters)
        selected, begin = random() % total, 0
        for entry in self.clusters:
            if begin <= selected < begin + entry.weight:
                return entry
            begin += entry.weight
        return self.clusters[-1]  # pragma: no cover - the weights cover [0, total)

    def decide(
        self, ref: RouteRef, path: str, matched: int, authority: str, random: Callable[[], int]
    ) -> RouteDecision:
        """`matched`: how many leading characters of the path prefix_rewrite replaces."""
        entry = self.pick(random)
        response = self.response_headers.then(entry.response_headers)
        if entry.cluster is None:
            return RouteDecision("cluster_not_found", 503, route=ref, response_headers=response)
        new_path = self.rewrite(path, matched)
        host = entry.host_rewrite or self.host_rewrite
        forward = Forward(
            cluster=entry.cluster,
            path=new_path,
            authority=host or authority,
            request_headers=self.request_headers.then(entry.request_headers),
            response_headers=response,
            timeout_s=self.timeout_s,
            original_path=path if self.prefix_rewrite or self.regex_rewrite else None,
            original_authority=authority if host else None,
        )
        return RouteDecision("forward", route=ref, forward=forward, response_headers=response)

    def rewrite(self, path: str, matched: int) -> str:
        if self.prefix_rewrite:
            return self.prefix_rewrite + path[matched:]
        if self.regex_rewrite is not None:
            cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=len(path))
            return replace_all(self.regex_rewrite[0], path[:cut], self.regex_rewrite[1]) + path[cut:]
        return path


@dataclass(frozen=True, slots=True)
class RedirectAction:
    """Envoy's RedirectAction as ApplyRedirect fills it; `port` 0 keeps none."""

    status: int
    scheme: str = ""
    host: str = ""
    port: int = 0
    path: str = ""
    prefix_rewrite: str = ""

    def location(self, scheme: str, authority: str, path: str, matched: int) -> str:
        """Http::Utility::newUri, after the route's prefix rewrite of the path."""
        if self.prefix_rewrite:
            path = self.prefix_rewrite + path[matched:]
        final_scheme = self.scheme or ("https" if scheme == "https" else "http")
        port = f":{self.port}" if self.port else ""
        host = self.host or _request_host(authority, final_scheme, scheme, bool(port))
        if self.path:
            query = path.find("?")
            path = self.path if "?" in self.path or query < 0 else self.path + path[query:]
        if not path.startswith("/"):
            path = "/" + path
        return f"{final_scheme}://{host}{port}{path}"


def _request_host(authority: str, new_scheme: str, scheme: str, new_port: bool) -> str:
    """processRequestHost: the request's host, its port dropped for a new port or a default-port scheme change
    (the request's x-forwarded-proto is its scheme: a gateway overwrites it)."""
    if authority.startswith("["):
        end = authority.rfind("]:")
        colon = end + 1 if end >= 0 else -1
    else:
        colon = authority.rfind(":")
    if colon < 0:
        return authority
    port = authority[colon:]
    drop = new_port or (new_scheme != scheme and (scheme, port) in (("https", ":443"), ("http", ":80")))
    return authority[:colon] if drop else authority


def ssl_redirect(authority: str, path: str, ref: RouteRef | None) -> RouteDecision:
    """A virtual host with require_tls ALL (tls.httpsRedirect) answers a plain request with createSslRedirectPath."""
    return RouteDecision("redirect", 301, headers=(("location", f"https://{authority}{path}"),), route=ref)
