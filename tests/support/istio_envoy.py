"""The Envoy 1.40 bootstrap istiod would give an ingress gateway for a set of Gateways, VirtualServices and
ServiceEntries: one listener per plain-HTTP server port, the route configuration of buildGatewayHTTPRouteConfig,
one static cluster per ServiceEntry host and port pointing at a loopback test server.

Test-side and written apart from src/meshgate/routing/compile.py (it shares only config/networking/hosts.py's name
helpers and the loaded model), so the Envoy parity test compares meshgate's decisions with what Envoy does
with istiod's translation: istio/istio pilot/pkg/networking/core/gateway.go (buildGatewayHTTPRouteConfig),
route/route.go (BuildHTTPRoutesForVirtualService, TranslateRoute, TranslateRouteMatch, translateHeaderMatch,
translateQueryParamMatch, applyHTTPRouteDestination, ApplyRedirect, ApplyDirectResponse,
TranslateHeadersOperations, SortVHostRoutes), pilot/pkg/networking/util/util.go (ConvertToEnvoyMatch).
HTTPS servers and sourceLabels are not generated (the parity test serves plain HTTP).
"""

from __future__ import annotations

from typing import Any

from meshgate.config.model import ResourceSet, Workload
from meshgate.config.networking import hosts
from meshgate.config.networking.model import Headers, HttpMatch, HttpRoute, StringMatch, VirtualService
from meshgate.config.select import selector_matches

Config = dict[str, Any]
_TYPE = "type.googleapis.com/envoy.extensions."


def _string(sm: StringMatch) -> Config:
    if sm.kind == "regex":
        return {"safe_regex": {"regex": sm.value}}
    return {sm.kind: sm.value}


def _header(name: str, sm: StringMatch) -> Config:  # translateHeaderMatch
    if sm.kind == "present":
        return {"name": name, "present_match": True}
    return {"name": name, "string_match": _string(sm)}


def route_match(match: HttpMatch | None) -> Config:  # TranslateRouteMatch
    out: Config = {"prefix": "/"}
    if match is None:
        return out
    headers = [_header(n, sm) for n, sm in match.headers]
    for name, sm in match.without_headers:
        h = _header(name, sm) | {"invert_match": True}
        if sm.kind != "present":
            h["treat_missing_header_as_empty"] = True
        headers.append(h)
    headers.sort(key=lambda h: str(h["name"]))
    if match.uri is not None and match.uri.kind != "present":
        out = {"exact": {"path": match.uri.value}, "prefix": {"prefix": match.uri.value}}.get(
            match.uri.kind, {"safe_regex": {"regex": match.uri.value}}
        )
    out["case_sensitive"] = not match.ignore_uri_case
    for pseudo, sm in ((":method", match.method), (":authority", match.authority), (":scheme", match.scheme)):
        if sm is not None:
            headers.append(_header(pseudo, sm))
    if headers:
        out["headers"] = headers
    query = [
        {"name": n, "present_match": True}
        if sm.kind == "present"
        else {"name": n, "string_match": _string(sm)}
        for n, sm in match.query_params
    ]
    if query:
        out["query_parameters"] = query
    return out


def _ops(pairs: tuple[tuple[str, str], ...], append: bool) -> list[Config]:
    action = "APPEND_IF_EXISTS_OR_ADD" if append else "OVERWRITE_IF_EXISTS_OR_ADD"
    internal = [p for p in pairs if p[0].startswith(":") or p[0].lower() == "host"]
    return [
        {"header": {"key": k, "value": v}, "append_action": action}
        for k, v in sorted(p for p in pairs if p not in internal)
    ]


def header_operations(headers: Headers | None) -> tuple[Config, str]:
    """TranslateHeadersOperations → (route fields, authority)."""
    if headers is None:
        return {}, ""
    req, resp = headers.request, headers.response
    out: Config = {
        "request_headers_to_add": _ops(req.set, False) + _ops(req.add, True),
        "response_headers_to_add": _ops(resp.set, False) + _ops(resp.add, True),
        "request_headers_to_remove": [n for n in req.remove if not n.startswith(":") and n.lower() != "host"],
        "response_headers_to_remove": [
            n for n in resp.remove if not n.startswith(":") and n.lower() != "host"
        ],
    }
    authority = ""
    for pairs in (req.add, req.set):  # set wins
        for name, value in pairs:
            if name.lower() in (":authority", "host"):
                authority = value
    return {k: v for k, v in out.items() if v}, authority


class Generator:
    def __init__(self, resources: ResourceSet, workload: Workload) -> None:
        self.resources, self.workload = resources, workload
        self.services = {h: se for se in resources.service_entries for h in se.hosts}

    def cluster_name(self, host: str, port: int | None, listener_port: int) -> str:
        se = self.services.get(host)
        if port is None:
            port = se.ports[0].number if se is not None and len(se.ports) == 1 else listener_port
        return f"outbound|{port}||{host}"

    def translate(
        self, vs: VirtualService, http: HttpRoute, match: HttpMatch | None, port: int, gw: str
    ) -> Config | None:
        """TranslateRoute."""
        if match is not None and match.port and match.port != port:
            return None
        if (
            match is not None
            and match.gateways
            and gw not in {hosts.resolve_gateway_name(g, vs.namespace) for g in match.gateways}
        ):
            return None
        out: Config = {
            "name": http.name + (f".{match.name}" if match and match.name else ""),
            "match": route_match(match),
        }
        fields, authority = header_operations(http.headers)
        out.update(fields)
        if http.redirect is not None:
            out["redirect"] = self._redirect(http, port)
        elif http.direct_response is not None:
            body = http.direct_response.body
            out["direct_response"] = {"status": http.direct_response.status}
            if body is not None:
                out["direct_response"]["body"] = {"inline_string": body.decode()}
        else:
            out["route"] = self._action(vs, http, out, authority, port)
        return out

    def _redirect(self, http: HttpRoute, port: int) -> Config:
        r = http.redirect
        assert r is not None
        out: Config = {"host_redirect": r.authority} if r.authority else {}
        if r.prefix_rewrite:
            out["prefix_rewrite"] = r.prefix_rewrite
        elif r.uri:
            out["path_redirect"] = r.uri
        if r.scheme:
            out["scheme_redirect"] = r.scheme
        if r.port is not None or r.derive_port:
            redirect_port = port if r.derive_port == "FROM_REQUEST_PORT" else (r.port or 0)
            if (redirect_port, r.scheme or "http") not in ((80, "http"), (443, "https")) and redirect_port:
                out["port_redirect"] = redirect_port
        codes = {0: "MOVED_PERMANENTLY", 301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER",
                 307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT"}  # fmt: skip
        out["response_code"] = codes[r.redirect_code]
        return out

    def _action(
        self, vs: VirtualService, http: HttpRoute, route: Config, authority: str, port: int
    ) -> Config:
        """applyHTTPRouteDestination."""
        action: Config = {"timeout": f"{http.timeout_s or 0}s"}
        if http.rewrite is not None:
            if http.rewrite.regex_match:
                action["regex_rewrite"] = {
                    "pattern": {"regex": http.rewrite.regex_match},
                    "substitution": http.rewrite.regex_rewrite,
                }
            elif http.rewrite.uri:
                action["prefix_rewrite"] = http.rewrite.uri
            authority = http.rewrite.authority or authority
        if authority:
            action["host_rewrite_literal"] = authority
        if len(http.route) == 1:
            dest = http.route[0]
            host = hosts.resolve_shortname(dest.destination.host, vs.namespace)
            action["cluster"] = self.cluster_name(host, dest.destination.port, port)
            fields, dest_authority = header_operations(dest.headers)
            for key, value in fields.items():
                route[key] = route.get(key, []) + value
            if dest_authority and "host_rewrite_literal" not in action:
                action["host_rewrite_literal"] = dest_authority
            return action
        clusters = []
        for dest in (d for d in http.route if d.weight > 0):
            host = hosts.resolve_shortname(dest.destination.host, vs.namespace)
            entry: Config = {
                "name": self.cluster_name(host, dest.destination.port, port),
                "weight": dest.weight,
            }
            fields, dest_authority = header_operations(dest.headers)
            entry.update(fields)
            if dest_authority:
                entry["host_rewrite_literal"] = dest_authority
            clusters.append(entry)
        action["weighted_clusters"] = {"clusters": clusters}
        return action

    def routes(self, vs: VirtualService, port: int, gw: str) -> list[Config]:
        """BuildHTTPRoutesForVirtualService: nothing after a catch-all."""
        out: list[Config] = []
        for http in vs.http:
            for match in http.match or (None,):
                route = self.translate(vs, http, match, port, gw)
                if route is None:
                    continue
                out.append(route)
                if _catch_all(route):
                    return out
        return out

    def route_config(self, port: int) -> Config:
        """buildGatewayHTTPRouteConfig for the plain-HTTP servers on `port`."""
        vhosts: dict[str, Config] = {}
        for gw in sorted(self.resources.gateways, key=lambda g: g.creation_index):
            if not selector_matches(gw.selector, self.workload.labels):
                continue
            gw_name = f"{gw.namespace}/{gw.name}"
            for server in (s for s in gw.servers if s.port.number == port):
                sanitized = hosts.sanitize_server_hosts(server.hosts, gw.namespace)
                redirect = bool(server.tls and server.tls.https_redirect)
                for vs in sorted(self.resources.virtual_services, key=lambda v: v.creation_index):
                    if gw_name not in {hosts.resolve_gateway_name(g.name, vs.namespace) for g in vs.gateways}:
                        continue
                    vs_hosts = [hosts.resolve_shortname(h, vs.namespace) for h in vs.hosts]
                    shared = hosts.intersection(hosts.names_for_namespace(sanitized, vs.namespace), vs_hosts)
                    routes = self.routes(vs, port, gw_name) if shared else []
                    for host in (h.lower() for h in shared if routes):
                        vhost = vhosts.setdefault(
                            host, {"name": f"{host}:{port}", "domains": [host], "routes": []}
                        )
                        vhost["routes"] += routes
                        if redirect:
                            vhost["require_tls"] = "ALL"
                for host in (h.lower() for h in sanitized if redirect):
                    vhosts.setdefault(host, {"name": f"{host}:{port}", "domains": [host], "routes": []})[
                        "require_tls"
                    ] = "ALL"
        for vhost in vhosts.values():  # SortVHostRoutes
            vhost["routes"] = [r for r in vhost["routes"] if not _catch_all(r)] + [
                r for r in vhost["routes"] if _catch_all(r)
            ]
        virtual_hosts = sorted(vhosts.values(), key=lambda v: str(v["name"])) or [
            {"name": f"blackhole:{port}", "domains": ["*"], "routes": []}
        ]
        return {"name": f"http.{port}", "virtual_hosts": virtual_hosts, "validate_clusters": False,
                "ignore_port_in_host_matching": True, "max_direct_response_body_size_bytes": 1048576}  # fmt: skip

    def bootstrap(self, ports: list[int], upstreams: dict[str, int], admin_port: int) -> Config:
        """`upstreams`: ServiceEntry host → the loopback port its cluster sends to."""
        listeners = [_listener(port, self.route_config(port)) for port in ports]
        clusters = [
            {"name": f"outbound|{p.number}||{host}", "type": "STATIC", "connect_timeout": "5s",
             "load_assignment": {"cluster_name": f"outbound|{p.number}||{host}", "endpoints": [{"lb_endpoints": [
                 {"endpoint": {"address": _socket(upstreams[host])}}]}]}}
            for host, se in self.services.items() if host in upstreams for p in se.ports
        ]  # fmt: skip
        return {"static_resources": {"listeners": listeners, "clusters": clusters},
                "admin": {"address": _socket(admin_port)}}  # fmt: skip


def _catch_all(route: Config) -> bool:  # IsCatchAllRoute
    match = route["match"]
    everything = match.get("prefix") == "/" or match.get("safe_regex", {}).get("regex") == ".*"
    return everything and not match.get("headers") and not match.get("query_parameters")


def _socket(port: int) -> Config:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _listener(port: int, route_config: Config) -> Config:
    """A gateway listener: istiod's HTTP connection manager for gateways (buildGatewayConnectionManager)."""
    hcm = {
        "@type": _TYPE + "filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": f"outbound_0.0.0.0_{port}",
        "codec_type": "AUTO",
        "server_name": "istio-envoy",
        "normalize_path": True,
        "use_remote_address": True,
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
        "route_config": route_config,
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": _TYPE + "filters.http.router.v3.Router"},
            }
        ],
    }
    return {
        "name": f"0.0.0.0_{port}",
        "address": _socket(port),
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }
