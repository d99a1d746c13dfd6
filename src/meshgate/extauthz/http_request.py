"""An HTTP authorization request → the original request it asks about, as `--http-mode` says to read it.

Whoever can set a header that describes the original request chooses what is decided, so each mode reads
only the headers its proxy overwrites on every request (and strips all of them from what policies see):

| mode | original URI | method | authority | must be present |
|---|---|---|---|---|
| `envoy` | the request line (Istio's `pathPrefix` stripped) | the request's | `Host` | — |
| `nginx` | `X-Original-URI` | `X-Original-Method`, else the request's | `Host` | `X-Original-URI` |
| `forward-auth` | `X-Forwarded-Uri` | `X-Forwarded-Method` | `X-Forwarded-Host` | those + `X-Forwarded-Proto` |
| `auto` | `X-Original-URI` / `X-Forwarded-Uri` when present, else the request line | either | either, else `Host` | — |

Sources: Envoy's HTTP ext_authz client sends the original method and path (after `path_prefix`) as its
own request line (envoyproxy/envoy source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc);
nginx `auth_request` conventions as deploy/nginx/meshgate-authz.conf sets them; Traefik ForwardAuth sets
X-Forwarded-Method/-Proto/-Host/-Uri/-For on every request (traefik/traefik
pkg/middlewares/auth/forward.go `writeHeader`) and X-Real-Ip at its entry point. Every mode but `envoy`
also takes `X-Real-IP`, `X-Forwarded-Port` and the workload headers from the proxy. A request lacking a
header its mode requires is refused with 400 (the proxy in front is misconfigured, or bypassed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from meshgate.authn.result import AuthnTrace
from meshgate.authz.result import AuthzTrace
from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.decision import Decision, Trace
from meshgate.extauthz.attributes import (
    CONTROL_HEADERS,
    FORWARDED_PORT,
    FORWARDED_PROTO,
    HOP_BY_HOP,
    LABELS_HEADER,
    NAMESPACE_HEADER,
    ORIGINAL_HOST_HEADERS,
    ORIGINAL_METHOD_HEADERS,
    ORIGINAL_URI_HEADERS,
    REAL_IP_HEADER,
    ExtAuthzRequest,
    workload_override,
)

HttpMode = Literal["auto", "envoy", "nginx", "forward-auth"]
HTTP_MODES: tuple[HttpMode, ...] = get_args(HttpMode)
MISSING_STATUS = 400


@dataclass(frozen=True, slots=True)
class _Mode:
    uri: tuple[str, ...] = ()  # headers naming the original URI, first present wins
    method: tuple[str, ...] = ()
    host: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    from_proxy: bool = True  # X-Real-IP, X-Forwarded-Port, X-Meshgate-Namespace/-Labels are the proxy's


_MODES: dict[str, _Mode] = {
    "auto": _Mode(ORIGINAL_URI_HEADERS, ORIGINAL_METHOD_HEADERS, ORIGINAL_HOST_HEADERS),
    "envoy": _Mode(from_proxy=False),
    "nginx": _Mode(("x-original-uri",), ("x-original-method",), (), ("x-original-uri",)),
    "forward-auth": _Mode(
        ("x-forwarded-uri",),
        ("x-forwarded-method",),
        ("x-forwarded-host",),
        ("x-forwarded-method", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-uri"),
    ),
}


@dataclass(frozen=True, slots=True)
class RefusedRequest:
    """A request its mode cannot read: answered with `decision` (400), never decided by the policies."""

    req: ExtAuthzRequest  # the request as received, for the access log
    decision: Decision


def read_http_request(
    method: str,
    target: str,
    pairs: Iterable[tuple[str, str]],
    peer_ip: str,
    local_port: int,
    path_prefix: str = "",
    mode: HttpMode = "auto",
) -> ExtAuthzRequest | RefusedRequest:
    """The original request's attributes (and the caller's workload), or a refusal naming what is missing."""
    spec = _MODES[mode]
    headers = [(name.lower(), value) for name, value in pairs]
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name, value)
    missing = [name for name in spec.required if not first.get(name, "").strip()]
    if missing:
        return _refuse(method, target, first.get("host", ""), peer_ip, mode, missing)
    uri_header = next((name for name in spec.uri if name in first), "")
    authority = first.get("host", "")
    if uri_header:
        path = first[uri_header].strip() or "/"
        method = _pick(first, spec.method) or method
        authority = _pick(first, spec.host) or authority
    else:
        path = target[len(path_prefix) :] if path_prefix and target.startswith(path_prefix) else target
        if not path.startswith("/"):
            path = "/" + path if path else "/"
    proxy = first if spec.from_proxy else {}
    kept = [(n, v) for n, v in headers if n not in CONTROL_HEADERS and n not in HOP_BY_HOP and n != "host"]
    kept.insert(0, ("host", authority))
    attrs = RequestAttributes(
        method=method,
        path=path,
        authority=authority,
        scheme=(first.get(FORWARDED_PROTO) or "http").strip().lower(),
        headers=build_headers(kept),
        peer_ip=proxy.get(REAL_IP_HEADER, "").strip() or peer_ip,
        local_port=_port(proxy.get(FORWARDED_PORT), local_port),
    )
    override, problem = workload_override(proxy.get(NAMESPACE_HEADER), proxy.get(LABELS_HEADER))
    return ExtAuthzRequest(attrs, override, problem, forward_auth=uri_header)


def _refuse(
    method: str, target: str, host: str, peer_ip: str, mode: HttpMode, missing: list[str]
) -> RefusedRequest:
    names = ", ".join("-".join(part.capitalize() for part in name.split("-")) for name in missing)
    message = f"--http-mode {mode}: the authorization request lacks {names}"
    trace = Trace(AuthnTrace(outcome="not evaluated"), AuthzTrace(outcome="not evaluated", reason=message))
    attrs = RequestAttributes(method, target or "/", host, peer_ip=peer_ip)
    refusal = Decision(
        allowed=False, status=MISSING_STATUS, body=message, headers=(), upstream=None, trace=trace
    )
    return RefusedRequest(ExtAuthzRequest(attrs), refusal)


def _pick(first: Mapping[str, str], names: Iterable[str]) -> str | None:
    for name in names:
        if name in first:
            return first[name].strip()
    return None


def _port(text: str | None, default: int) -> int:
    if text and text.strip().isdigit() and 0 < int(text.strip()) < 65536:
        return int(text.strip())
    return default
