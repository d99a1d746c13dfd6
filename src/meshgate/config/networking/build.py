"""One networking.istio.io resource: its spec decoded strictly, validated as istiod does, built into the model.

config/parse.py hands Gateway, VirtualService and ServiceEntry documents here after the envelope and
metadata; the frozen values of config/networking/model.py are built only for a resource without errors, from the
decoded spec (plain dicts of JSON field names) and the line map the Decoder recorded.
"""

from __future__ import annotations

from typing import Any

from meshgate.config.govalues import parse_duration_ns
from meshgate.config.networking.model import Destination as Dest
from meshgate.config.networking.model import (
    DirectResponse,
    Endpoint,
    Gateway,
    GatewayRef,
    HeaderOperations,
    Headers,
    HttpMatch,
    HttpRoute,
    Redirect,
    Rewrite,
    RouteDestination,
    Server,
    ServerPort,
    ServerTls,
    ServiceEntry,
    ServicePort,
    StringMatch,
    VirtualService,
)
from meshgate.config.networking.schema import NETWORKING_KINDS
from meshgate.config.report import Reporter
from meshgate.config.schema import Decoder, Path
from meshgate.config.validation.gateway import validate_gateway, validate_service_entry
from meshgate.config.validation.http_route import validate_http_routes
from meshgate.config.validation.virtual_service import validate_virtual_service
from meshgate.config.yamlnodes import YNode
from meshgate.errors import SourceRef

NetworkingResource = Gateway | VirtualService | ServiceEntry
Lines = dict[Path, int]


def parse_networking(
    kind: str,
    meta: tuple[str, str],
    spec_node: YNode | None,
    decoder: Decoder,
    rep: Reporter,
    at: tuple[SourceRef, int],
) -> NetworkingResource | None:
    """`meta` is (name, namespace), `at` the resource's (source, creation index)."""
    name, namespace = meta
    spec = decoder.value(spec_node, NETWORKING_KINDS[kind], ("spec",)) if spec_node is not None else None
    spec = spec or {}
    if kind == "Gateway":
        validate_gateway(rep, spec, name)
    elif kind == "VirtualService":
        validate_virtual_service(rep, spec, namespace)
        validate_http_routes(rep, spec)
    else:
        validate_service_entry(rep, spec, namespace)
    if rep.has_errors:
        return None
    lines, (source, index) = rep.lines, at
    if kind == "Gateway":
        return _gateway(name, namespace, spec, lines, source, index)
    if kind == "VirtualService":
        return _virtual_service(name, namespace, spec, lines, source, index)
    return _service_entry(name, namespace, spec, lines, source, index)


def _line(lines: Lines, *path: str | int) -> int:
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 0


def _gateway(
    name: str, namespace: str, spec: dict[str, Any], lines: Lines, source: SourceRef, index: int
) -> Gateway:
    servers = []
    for i, raw in enumerate(spec.get("servers") or ()):
        port = raw["port"]
        tls = raw.get("tls")
        servers.append(
            Server(
                port=ServerPort(port["number"], port["protocol"], port["name"]),
                hosts=tuple(raw["hosts"]),
                index=i,
                line=_line(lines, "spec", "servers", i),
                tls=None
                if tls is None
                else _server_tls(tls, _line(lines, "spec", "servers", i, "tls", "credentialName")),
                bind=raw.get("bind", ""),
                name=raw.get("name", ""),
            )
        )
    selector = spec.get("selector")
    return Gateway(
        name, namespace, tuple(servers), None if selector is None else dict(selector), source, index
    )


def _server_tls(raw: dict[str, Any], line: int) -> ServerTls:
    names = raw.get("credentialNames") or []
    credential = raw.get("credentialName") or (names[0] if names else "")
    return ServerTls(raw.get("mode", "PASSTHROUGH"), raw.get("httpsRedirect", False), credential, line)


def _virtual_service(
    name: str, namespace: str, spec: dict[str, Any], lines: Lines, source: SourceRef, index: int
) -> VirtualService:
    gateways = tuple(
        GatewayRef(g, _line(lines, "spec", "gateways", i)) for i, g in enumerate(spec.get("gateways") or ())
    )
    http = tuple(_http_route(raw, i, lines) for i, raw in enumerate(spec.get("http") or ()))
    return VirtualService(
        name,
        namespace,
        tuple(spec.get("hosts") or ()),
        gateways,
        http,
        tuple(spec.get("exportTo") or ()),
        source,
        index,
    )


def _http_route(raw: dict[str, Any], i: int, lines: Lines) -> HttpRoute:
    base: Path = ("spec", "http", i)
    redirect, direct, rewrite = raw.get("redirect"), raw.get("directResponse"), raw.get("rewrite")
    timeout = raw.get("timeout")
    return HttpRoute(
        index=i,
        line=_line(lines, *base),
        name=raw.get("name", ""),
        match=tuple(_match(m, _line(lines, *base, "match", j)) for j, m in enumerate(raw.get("match") or ())),
        route=tuple(
            _destination(d, _line(lines, *base, "route", j, "destination", "host"))
            for j, d in enumerate(raw.get("route") or ())
        ),
        redirect=None if redirect is None else _redirect(redirect),
        direct_response=None if direct is None else _direct(direct),
        rewrite=None if rewrite is None else _rewrite(rewrite),
        headers=_headers(raw.get("headers")),
        timeout_s=None if timeout is None else _seconds(timeout),
    )


def _seconds(text: str) -> float:
    return (parse_duration_ns(text) or 0) / 1e9


def string_match(raw: dict[str, Any] | None) -> StringMatch:
    """Istio's StringMatch as istiod translates it: `{}` (no match type) and regex `*` are present_match."""
    raw = raw or {}
    for kind in ("exact", "prefix", "regex"):
        if kind in raw:
            if kind == "regex" and raw[kind] == "*":
                return StringMatch("present")
            return StringMatch(kind, raw[kind])
    return StringMatch("present")


def _match(raw: dict[str, Any], line: int) -> HttpMatch:
    def pairs(field: str) -> tuple[tuple[str, StringMatch], ...]:
        return tuple((name, string_match(sm)) for name, sm in (raw.get(field) or {}).items())

    uri = raw.get("uri")
    return HttpMatch(
        name=raw.get("name", ""),
        uri=None if not uri else string_match(uri),
        scheme=None if "scheme" not in raw else string_match(raw["scheme"]),
        method=None if "method" not in raw else string_match(raw["method"]),
        authority=None if "authority" not in raw else string_match(raw["authority"]),
        headers=pairs("headers"),
        without_headers=pairs("withoutHeaders"),
        query_params=pairs("queryParams"),
        port=raw.get("port", 0),
        ignore_uri_case=raw.get("ignoreUriCase", False),
        source_labels=dict(raw.get("sourceLabels") or {}),
        source_namespace=raw.get("sourceNamespace", ""),
        gateways=tuple(raw.get("gateways") or ()),
        line=line,
    )


def _destination(raw: dict[str, Any], line: int) -> RouteDestination:
    dest = raw["destination"]
    port = (dest.get("port") or {}).get("number")
    return RouteDestination(
        Dest(dest["host"], line, port, dest.get("subset", "")),
        raw.get("weight", 0),
        _headers(raw.get("headers")),
    )


def _operations(raw: dict[str, Any] | None) -> HeaderOperations:
    raw = raw or {}
    return HeaderOperations(
        tuple((raw.get("set") or {}).items()),
        tuple((raw.get("add") or {}).items()),
        tuple(raw.get("remove") or ()),
    )


def _headers(raw: dict[str, Any] | None) -> Headers | None:
    return None if raw is None else Headers(_operations(raw.get("request")), _operations(raw.get("response")))


def _redirect(raw: dict[str, Any]) -> Redirect:
    return Redirect(
        uri=raw.get("uri", ""),
        authority=raw.get("authority", ""),
        prefix_rewrite=raw.get("prefixRewrite", ""),
        scheme=raw.get("scheme", ""),
        port=raw.get("port"),
        derive_port=raw.get("derivePort", ""),
        redirect_code=raw.get("redirectCode", 0),
    )


def _direct(raw: dict[str, Any]) -> DirectResponse:
    body = raw.get("body")
    if body is None:
        return DirectResponse(raw["status"])
    return DirectResponse(
        raw["status"], body["bytes"] if "bytes" in body else body.get("string", "").encode()
    )


def _rewrite(raw: dict[str, Any]) -> Rewrite:
    regex = raw.get("uriRegexRewrite") or {}
    return Rewrite(
        raw.get("uri", ""), raw.get("authority", ""), regex.get("match", ""), regex.get("rewrite", "")
    )


def _service_entry(
    name: str, namespace: str, spec: dict[str, Any], lines: Lines, source: SourceRef, index: int
) -> ServiceEntry:
    se_hosts = tuple(spec.get("hosts") or ())
    ports = tuple(
        ServicePort(p["number"], p["name"], p.get("protocol", ""), p.get("targetPort", 0))
        for p in spec.get("ports") or ()
    )
    endpoints = tuple(
        Endpoint(
            e.get("address", ""),
            _line(lines, "spec", "endpoints", i),
            dict(e.get("ports") or {}),
            dict(e.get("labels") or {}),
        )
        for i, e in enumerate(spec.get("endpoints") or ())
    )
    selector = spec.get("workloadSelector")
    return ServiceEntry(
        name=name,
        namespace=namespace,
        hosts=se_hosts,
        host_lines=tuple(_line(lines, "spec", "hosts", i) for i in range(len(se_hosts))),
        ports=ports,
        resolution=spec.get("resolution", "NONE"),
        endpoints=endpoints,
        workload_selector=None if selector is None else dict(selector.get("labels") or {}),
        export_to=tuple(spec.get("exportTo") or ()),
        source=source,
        creation_index=index,
    )
