"""Problems between resources: what a Gateway, VirtualService or ServiceEntry names and the configuration lacks.

istiod accepts each of these resources alone and lets the data plane fail later (a VirtualService bound to a
gateway nobody defines serves nothing, a route to an unknown host answers 503, an unknown credentialName
fails the TLS handshake, a second server on a taken port is dropped with a log line). meshgate has no
cluster to fall back on, so each becomes a `file:line` error of the load (docs/routing.md lists which is
istiod's behaviour and which meshgate's). Resources that failed their own validation (`rejected`) are not
reported again as missing.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshgate.config.model import ResourceSet
from meshgate.config.networking import hosts
from meshgate.config.networking.model import Gateway, Server, ServiceEntry, TlsSecret, VirtualService
from meshgate.errors import Problem

Rejected = set[tuple[str, str, str]]
UNSERVED_RESOLUTIONS = {
    "NONE": "passes requests to their original destination",
    "DYNAMIC_DNS": "resolves the request's own host",
}


def check_references(resources: ResourceSet, rejected: Rejected | None = None) -> list[Problem]:
    rejected = rejected or set()
    out: list[Problem] = []
    gateways: dict[str, Gateway | None] = {
        f"{ns}/{name}": None for kind, ns, name in rejected if kind == "Gateway"
    }
    gateways.update({f"{g.namespace}/{g.name}": g for g in resources.gateways})
    by_host = _hosts(resources.service_entries, out)
    se_rejected = any(kind == "ServiceEntry" for kind, _, _ in rejected)
    for vs in resources.virtual_services:
        bound = _check_gateway_refs(vs, gateways, out)
        if bound:
            _check_destinations(vs, by_host, se_rejected, out)
            if all(g is not None for g in bound):  # a rejected Gateway's hosts are unknown
                _warn_unbound(vs, [g for g in bound if g is not None], out)
    secrets = {(s.namespace, s.name): s for s in resources.secrets}
    for gateway in resources.gateways:
        for server in gateway.servers:
            _check_credential(gateway, server, secrets, rejected, out)
    _check_overlaps(resources.gateways, out)
    return out


def _hosts(entries: Iterable[ServiceEntry], out: list[Problem]) -> dict[str, ServiceEntry]:
    by_host: dict[str, ServiceEntry] = {}
    for se in sorted(entries, key=lambda s: s.creation_index):
        for host, line in zip(se.hosts, se.host_lines, strict=False):
            first = by_host.setdefault(host, se)
            if first is not se:
                at = f"{first.source.file}:{first.source.line}"
                msg = f"host {host} is already defined by ServiceEntry {first.namespace}/{first.name} ({at})"
                out.append(Problem(se.source.file, line, f"{msg}: meshgate needs one definition per host"))
    return by_host


def _check_gateway_refs(
    vs: VirtualService, gateways: dict[str, Gateway | None], out: list[Problem]
) -> list[Gateway | None]:
    """The Gateways the VirtualService binds to (None: one that failed its own validation)."""
    bound: list[Gateway | None] = []
    match_refs = [(name, m.line) for route in vs.http for m in route.match for name in m.gateways]
    for (name, line), top in [((r.name, r.line), True) for r in vs.gateways] + [
        (ref, False) for ref in match_refs
    ]:
        if name == hosts.MESH_GATEWAY:
            continue
        key = hosts.resolve_gateway_name(name, vs.namespace)
        if key not in gateways:
            msg = f"VirtualService {vs.namespace}/{vs.name}: gateway {name} ({key}) is not defined by any Gateway"
            out.append(Problem(vs.source.file, line, f"{msg} of the configuration"))
        elif top:
            bound.append(gateways[key])
    return bound


def _check_destinations(
    vs: VirtualService, by_host: dict[str, ServiceEntry], se_rejected: bool, out: list[Problem]
) -> None:
    for route in vs.http:
        for dest in (d.destination for d in route.route):
            fqdn = hosts.resolve_shortname(dest.host, vs.namespace)
            se = by_host.get(fqdn)
            if se is None:
                if not se_rejected:
                    named = dest.host if fqdn == dest.host else f"{dest.host} ({fqdn})"
                    msg = f"destination host {named} is defined by no ServiceEntry: meshgate has no service registry"
                    out.append(Problem(vs.source.file, dest.line, f"{msg} to find it in"))
                continue
            where = f"ServiceEntry {se.namespace}/{se.name}"
            if dest.port is not None and dest.port not in (p.number for p in se.ports):
                ports = ", ".join(str(p.number) for p in se.ports) or "none"
                out.append(
                    Problem(
                        vs.source.file,
                        dest.line,
                        f"port {dest.port} is not a port of {where} (ports: {ports})",
                    )
                )
            why = UNSERVED_RESOLUTIONS.get(se.resolution)
            if why is not None or (se.workload_selector is not None and not se.endpoints):
                reason = (
                    f"resolution {se.resolution} {why}"
                    if why
                    else "its endpoints are pods (workloadSelector)"
                )
                out.append(Problem(vs.source.file, dest.line, f"meshgate cannot route to {where}: {reason}"))


def _warn_unbound(vs: VirtualService, bound: list[Gateway], out: list[Problem]) -> None:
    """istiod binds a VirtualService to a server only where their hosts intersect (gateway.go)."""
    for gateway in bound:
        for server in gateway.servers:
            server_hosts = hosts.names_for_namespace(
                hosts.sanitize_server_hosts(server.hosts, gateway.namespace), vs.namespace
            )
            vs_hosts = [hosts.resolve_shortname(h, vs.namespace) for h in vs.hosts]
            if hosts.intersection(server_hosts, vs_hosts):
                return
    names = ", ".join(f"{g.namespace}/{g.name}" for g in bound)
    msg = f"VirtualService {vs.namespace}/{vs.name}: no server of gateway {names} serves its hosts: it routes nothing"
    out.append(Problem(vs.source.file, vs.source.line, msg, warning=True))


def credential_key(name: str, proxy_namespace: str) -> tuple[str, str] | None:
    """credentials.ParseResourceName for `name` or `kubernetes://[ns/]name`: the Secret's (namespace, name),
    by default in the namespace of the gateway workload (the proxy); None for other resource types."""
    if "://" in name and not name.startswith("kubernetes://"):
        return None
    ns, slash, secret = name.removeprefix("kubernetes://").partition("/")
    return (ns, secret) if slash else (proxy_namespace, ns)


def _check_credential(
    gateway: Gateway,
    server: Server,
    secrets: dict[tuple[str, str], TlsSecret],
    rejected: Rejected,
    out: list[Problem],
) -> None:
    """The workload's namespace is only known when the table is built; here a Secret of that name must exist."""
    tls = server.tls
    if (
        tls is None
        or not tls.credential_name
        or tls.mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL")
    ):
        return
    file, line = gateway.source.file, tls.credential_line or server.line
    key = credential_key(tls.credential_name, "*")
    if key is None:
        out.append(
            Problem(
                file,
                line,
                f"credentialName {tls.credential_name}: meshgate reads only Secrets (kubernetes://)",
            )
        )
        return
    found = [s for (ns, name), s in secrets.items() if name == key[1] and key[0] in ("*", ns)]
    if not found and not any(k == "Secret" and key[0] in ("*", ns) and n == key[1] for k, ns, n in rejected):
        where = f"Secret {key[0]}/{key[1]}" if key[0] != "*" else f"Secret named {key[1]}"
        msg = f"credentialName {tls.credential_name}: no {where} in the configuration"
        out.append(Problem(file, line, f"{msg} (istiod reads it from the namespace of the gateway workload)"))
    elif found and not any(s.cert_pem for s in found):
        msg = f"credentialName {tls.credential_name}: Secret {found[0].namespace}/{found[0].name} holds no certificate"
        out.append(Problem(file, line, f"{msg} (tls.crt and tls.key, or cert and key)"))


def selectors_overlap(a: dict[str, str] | None, b: dict[str, str] | None) -> bool:
    """Some workload's labels can satisfy both selectors: no key is required to hold two values."""
    return not any(key in (b or {}) and (b or {})[key] != value for key, value in (a or {}).items())


def server_class(server: Server) -> str:
    protocol = server.port.protocol.lower()
    if protocol in ("https", "tls"):
        return "TLS"
    return "HTTP" if protocol in ("http", "http2", "http_proxy", "grpc", "grpc-web") else "TCP"


def _check_overlaps(gateways: Iterable[Gateway], out: list[Problem]) -> None:
    """Two servers of gateways one workload can run, on one port: istiod merges plain-text HTTP servers, drops a
    later server whose protocol cannot share the port or whose TLS hosts repeat (model/gateway.go
    mergeGateways); meshgate refuses all three, plain HTTP servers only when a host repeats."""
    seen: list[tuple[Gateway, Server]] = []
    for gateway in sorted(gateways, key=lambda g: g.creation_index):
        for server in gateway.servers:
            for other_gw, other in seen:
                if other.port.number != server.port.number or other.bind != server.bind:
                    continue
                if not selectors_overlap(gateway.selector, other_gw.selector):
                    continue
                why = _conflict(server, other, gateway.namespace, other_gw.namespace)
                if why:
                    at = f"{other_gw.source.file}:{other.line}"
                    first = f"{other_gw.namespace}/{other_gw.name} servers[{other.index}] ({at})"
                    msg = f"Gateway {gateway.namespace}/{gateway.name} servers[{server.index}]"
                    msg += f" port {server.port.number} conflicts with {first}: {why}"
                    out.append(Problem(gateway.source.file, server.line, msg))
            seen.append((gateway, server))


def _conflict(server: Server, other: Server, ns: str, other_ns: str) -> str | None:
    kinds = server_class(server), server_class(other)
    if kinds[0] != kinds[1] or kinds == ("TCP", "TCP"):
        return f"{kinds[1]} and {kinds[0]} servers cannot share a port"
    mine = set(hosts.sanitize_server_hosts(server.hosts, ns))
    repeated = sorted(mine & set(hosts.sanitize_server_hosts(other.hosts, other_ns)))
    if repeated:
        return f"both serve host {', '.join(repeated)}"
    return None
