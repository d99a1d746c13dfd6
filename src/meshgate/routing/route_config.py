"""A route configuration: virtual hosts chosen by authority, and their routes in order.

Envoy's RouteMatcher (envoyproxy/envoy source/common/router/config_impl.cc): findVirtualHost strips the port
(istiod sets ignore_port_in_host_matching on gateways), then exact, the longest `*suffix`, the longest
`prefix*`, then `*`; the first route whose conditions all hold wins. Pure and synchronous.
"""

from __future__ import annotations

import random as _random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from meshgate.config.networking import hosts
from meshgate.routing.action import NO_ROUTE, RouteDecision, ssl_redirect
from meshgate.routing.compile import CompiledRoute
from meshgate.routing.match import HeaderView, Request, path_only


def _default_random() -> int:
    return _random.getrandbits(64)


@dataclass(frozen=True, slots=True)
class VirtualHost:
    name: str
    domains: tuple[str, ...]
    routes: tuple[CompiledRoute, ...] = ()
    require_tls: bool = False  # the server's tls.httpsRedirect: a plain request is redirected to https
    # per route: its case-sensitive prefix (None: another path match), whether it has header/query conditions
    scan: tuple[tuple[str | None, bool, CompiledRoute], ...] = field(default=(), repr=False, compare=False)
    # the leading routes that are unconditional exact or prefix paths (the usual ingress) as one anchored
    # alternation over `:path` with its query: its first matching branch, tried in order as Envoy tries the
    # routes, names the route (`head_routes[lastindex]`); when none matches, the scan goes on at `head_len`
    head: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    head_routes: tuple[CompiledRoute | None, ...] = field(default=(), repr=False, compare=False)
    head_len: int = field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        scan = tuple(
            (m.path.value if m.path.kind == "prefix" and not m.path.ignore_case else None,
             bool(m.headers or m.query), r)
            for r in self.routes
            for m in (r.matcher,)
        )  # fmt: skip
        object.__setattr__(self, "scan", scan)
        branches: list[tuple[str, str, bool]] = []  # (value, what follows its group, folded)
        routes: list[CompiledRoute | None] = [None]  # by group number
        count = 0
        for route in self.routes:  # the head: prefix or exact paths without header or query conditions
            matcher = route.matcher
            path = matcher.path
            if matcher.headers or matcher.query or path.kind not in ("prefix", "exact"):
                break
            count += 1
            if "?" not in path.value and "#" not in path.value:  # else a path the route never matches
                branches.append((path.value, "" if path.kind == "prefix" else END, path.ignore_case))
                routes.append(route)
        if count:
            object.__setattr__(self, "head", re.compile(_alternation(branches) or r"(?!)"))
            object.__setattr__(self, "head_routes", tuple(routes))
            object.__setattr__(self, "head_len", count)


# An exact path ends where the path does, or at its query or fragment.
END = r"(?=[?#]|\Z)"


def _alternation(branches: list[tuple[str, str, bool]]) -> str:
    """The head's routes as one alternation matched from the start of `:path`, query and all, one group per
    route in order. A prefix or exact value without `?`/`#` starts the path exactly when it starts the path
    cut at its query and fragment (route matching cuts at the first of them); an exact one must be followed
    by one or the end. `ignoreUriCase` folds ASCII only (`(?ai:)`). Neighbouring literal branches sharing a
    leading text are factored (`x(?:(a)|(b))` for `(xa)|(xb)`): the same branches in the same order, tried
    faster — re tries an alternation's branches one by one."""
    out: list[str] = []
    i = 0
    while i < len(branches):
        value, tail, folded = branches[i]
        j = i + 1
        while (
            j < len(branches)
            and value
            and not folded
            and not branches[j][2]
            and branches[j][0][:1] == value[:1]
        ):
            j += 1
        if j - i == 1:
            text = f"(?ai:{re.escape(value)})" if folded else re.escape(value)
            out.append(f"({text}){tail}")
        else:
            common = _common([b[0] for b in branches[i:j]])
            rest = [(v[len(common) :], t, f) for v, t, f in branches[i:j]]
            out.append(f"{re.escape(common)}(?:{_alternation(rest)})")
        i = j
    return "|".join(out)


def _common(values: list[str]) -> str:
    """The longest text every value starts with (the first and last in sort order share it)."""
    first, last = min(values), max(values)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


@dataclass(frozen=True)
class RouteConfig:
    """Envoy's RouteMatcher over virtual hosts (gateways set ignore_port_in_host_matching)."""

    name: str
    virtual_hosts: tuple[VirtualHost, ...]
    _exact: dict[str, VirtualHost] = field(default_factory=dict, repr=False)
    _suffix: list[tuple[str, VirtualHost]] = field(default_factory=list, repr=False)
    _prefix: list[tuple[str, VirtualHost]] = field(default_factory=list, repr=False)
    _default: list[VirtualHost] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        for vhost in self.virtual_hosts:
            for domain in (d.lower() for d in vhost.domains):
                if domain == "*":
                    self._default.append(vhost)
                elif domain.startswith("*"):
                    self._suffix.append((domain[1:], vhost))
                elif domain.endswith("*"):
                    self._prefix.append((domain[:-1], vhost))
                else:
                    self._exact.setdefault(domain, vhost)
        self._suffix.sort(key=lambda p: -len(p[0]))
        self._prefix.sort(key=lambda p: -len(p[0]))

    def find(self, authority: str | None) -> VirtualHost | None:
        if not (self._exact or self._suffix or self._prefix):
            return self._default[0] if self._default else None
        if authority is None:
            return None
        host = hosts.strip_port(authority).lower()
        found = self._exact.get(host)
        for suffix, vhost in self._suffix if found is None else ():
            if len(suffix) < len(host) and host.endswith(suffix):
                return vhost
        for prefix, vhost in self._prefix if found is None else ():
            if len(prefix) < len(host) and host.startswith(prefix):
                return vhost
        return found or (self._default[0] if self._default else None)

    def route(self, request: Request, random: Callable[[], int] = _default_random) -> RouteDecision:
        vhost = self.find(request.authority)
        if vhost is None:
            return NO_ROUTE
        if vhost.require_tls and request.scheme != "https":
            return ssl_redirect(request.authority or "", request.path, None)
        route = _first(vhost, request)
        return NO_ROUTE if route is None else route.decide(request, random)

    def select(self, request: Request) -> CompiledRoute | None:
        """The route that matches, without deciding it; None when `route` answers locally (no virtual
        host, an https redirect, no route) — ask `route` then."""
        vhost = self.find(request.authority)
        if vhost is None or (vhost.require_tls and request.scheme != "https"):
            return None
        return _first(vhost, request)


def _first(vhost: VirtualHost, request: Request) -> CompiledRoute | None:
    """Envoy's first matching route of the virtual host: the head alternation, then a scan of the rest."""
    routes = vhost.scan
    start = vhost.head_len
    if vhost.head is not None:
        found = vhost.head.match(request.path)
        if found is not None:
            return vhost.head_routes[found.lastindex or 0]
        if start == len(routes):
            return None
    only = path_only(request.path)
    view: HeaderView | None = None  # built for the first route with a header or query condition
    for prefix, conditional, route in (
        routes[start:] if start else routes
    ):  # the path first: it rules most out
        if prefix is not None:
            if not only.startswith(prefix):
                continue
        elif not route.matcher.path.matches(only):
            continue
        if conditional:
            if view is None:
                view = HeaderView(request)
            if not route.matcher.conditions(view):
                continue
        return route
    return None
