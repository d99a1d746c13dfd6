"""What an external-authorization caller tells us → `RequestAttributes` (+ the workload it asks for).

Two inputs, one output:
- an Envoy ext_authz gRPC v3 `CheckRequest` (read duck-typed, so this module needs no grpc/protos);
- an HTTP authorization request: Envoy ext_authz HTTP mode (the original method/path/Host *are* the
  request), or nginx `auth_request` / Traefik ForwardAuth (the original request is described by
  `x-original-*` / `x-forwarded-*` headers that the proxy sets) — read per `--http-mode` in
  http_request.py, with the header names below.

The workload a request is decided for may come with the request (a `context_extensions` entry set in
Envoy's route/filter config, or a header the proxy sets), else the `--namespace/--labels` flags apply.
Nothing here raises on bad input: a bad workload override is returned as `problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshgate.engine.attributes import RequestAttributes, build_headers

# Per-request workload: Envoy `ExtAuthzPerRoute.check_settings.context_extensions` keys
# (envoyproxy/envoy api/envoy/service/auth/v3/attribute_context.proto `context_extensions`).
CONTEXT_NAMESPACE = "namespace"
CONTEXT_LABELS = "labels"
# ... and the HTTP headers a proxy sets for the same purpose (the proxy must overwrite client values).
NAMESPACE_HEADER = "x-meshgate-namespace"
LABELS_HEADER = "x-meshgate-labels"

# nginx auth_request convention (nginx.org ngx_http_auth_request_module example) and Traefik
# ForwardAuth (doc.traefik.io middlewares/http/forwardauth: X-Forwarded-Method/-Proto/-Host/-Uri/-For).
ORIGINAL_URI_HEADERS = ("x-original-uri", "x-forwarded-uri")
ORIGINAL_METHOD_HEADERS = ("x-original-method", "x-forwarded-method")
ORIGINAL_HOST_HEADERS = ("x-original-host", "x-forwarded-host")
REAL_IP_HEADER = "x-real-ip"  # nginx `proxy_set_header X-Real-IP $remote_addr`
FORWARDED_PROTO = "x-forwarded-proto"
FORWARDED_PORT = "x-forwarded-port"
# Headers that describe the original request rather than being part of it: not seen by policies.
CONTROL_HEADERS = frozenset(
    (
        *ORIGINAL_URI_HEADERS,
        *ORIGINAL_METHOD_HEADERS,
        *ORIGINAL_HOST_HEADERS,
        REAL_IP_HEADER,
        FORWARDED_PORT,
        NAMESPACE_HEADER,
        LABELS_HEADER,
    )
)
# Envoy ext_authz HTTP client: never forwarded as request headers of the original request.
HOP_BY_HOP = frozenset(("connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"))


@dataclass(frozen=True, slots=True)
class WorkloadOverride:
    """A workload named by the caller; None fields fall back to the flags."""

    namespace: str | None = None
    labels: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ExtAuthzRequest:
    """One authorization question: the attributes, the caller's workload, and how it was asked."""

    attrs: RequestAttributes
    workload: WorkloadOverride | None = None
    problem: str | None = None  # a malformed workload override: answered with a denial, never raised
    # forward-auth style: the header that carried the original URI (`x-original-uri` = nginx,
    # `x-forwarded-uri` = Traefik); "" when the request line is the original request (Envoy HTTP mode)
    forward_auth: str = ""


def parse_labels(text: str) -> dict[str, str] | None:
    """`k=v,k2=v2` → dict, or None when malformed (no exception: this is request input)."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            return None
        labels[key.strip()] = value.strip()
    return labels


def workload_override(
    namespace: str | None, labels: str | None
) -> tuple[WorkloadOverride | None, str | None]:
    """Build the override from the two optional texts; returns (override, problem)."""
    if namespace is None and labels is None:
        return None, None
    parsed = None
    if labels is not None:
        parsed = parse_labels(labels)
        if parsed is None:
            return None, f"malformed workload labels {labels!r} (expected k=v[,k=v...])"
    if namespace is not None and not namespace.strip():
        return None, "empty workload namespace"
    return WorkloadOverride(namespace.strip() if namespace else None, parsed), None


# -- gRPC CheckRequest ------------------------------------------------------------------------------


def attributes_from_check(request: Any) -> ExtAuthzRequest:
    """`envoy.service.auth.v3.CheckRequest` → attributes (attribute_context.proto field names).

    Envoy puts the HTTP/2-style pseudo-headers (`:authority`, `:method`, `:path`) in the header map;
    they become `method`/`authority`/`path`, and `host` is added as the gateway front would see it.
    """
    ctx = request.attributes
    http = ctx.request.http
    pairs = _check_header_pairs(http)
    pseudo = {name: value for name, value in pairs if name.startswith(":")}
    authority = http.host or pseudo.get(":authority", "")
    path = http.path or pseudo.get(":path", "/")
    if http.query and "?" not in path:
        path = f"{path}?{http.query}"
    headers = [(n, v) for n, v in pairs if not n.startswith(":")]
    if authority and not any(n == "host" for n, _ in headers):
        headers.insert(0, ("host", authority))
    source = ctx.source.address.socket_address
    destination = ctx.destination.address.socket_address
    attrs = RequestAttributes(
        method=http.method or pseudo.get(":method", "GET"),
        path=path,
        authority=authority,
        scheme=http.scheme or pseudo.get(":scheme", "http"),
        headers=build_headers(headers),
        peer_ip=source.address or "127.0.0.1",
        local_port=int(destination.port_value) or 8080,
        local_ip=destination.address or "127.0.0.1",
        sni=ctx.tls_session.sni if ctx.HasField("tls_session") else "",
    )
    ext: Mapping[str, str] = ctx.context_extensions
    override, problem = workload_override(ext.get(CONTEXT_NAMESPACE), ext.get(CONTEXT_LABELS))
    return ExtAuthzRequest(attrs, override, problem)


def _check_header_pairs(http: Any) -> list[tuple[str, str]]:
    """`header_map` (Envoy `encode_raw_headers: true`, one entry per value) or the joined `headers` map."""
    if len(http.header_map.headers):
        return [
            (h.key.lower(), h.raw_value.decode("utf-8", "replace") if h.raw_value else h.value)
            for h in http.header_map.headers
        ]
    return [(name.lower(), value) for name, value in http.headers.items()]
