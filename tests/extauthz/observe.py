"""Observe functions for the external-authorizer fronts: run a golden case, report what the client saw.

`upstream_path`: behind Envoy (gRPC or HTTP mode) it is the path Envoy forwards, normalized by Envoy
itself as Istio configures it (BASE), so these observers send the raw path (meshgate normalizes on its
own) and report Envoy's normalization; behind nginx it is the `x-meshgate-path` meshgate answers with.
`upstream_set` is what the authorizer tells the proxy to set.
"""

from __future__ import annotations

import http.client

from tests.golden.cases import GoldenCase
from tests.golden.harness import Observed, attributes_for

from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.options import PathNormalization
from meshgate.engine.pathnorm import normalize_path
from meshgate.extauthz.service import AuthzServer

PINNED_UPSTREAM = frozenset({"x-jwt-payload"})  # as tests/golden/harness.observe_engine


def envoy_forwarded_path(case: GoldenCase) -> str | None:
    """The path Envoy's HCM forwards: `normalize_path` only, Istio's BASE (docs/istio-semantics.md §7)."""
    return normalize_path(case.path, PathNormalization.BASE)


def without_query_params(path: str, names: list[str]) -> str:
    """Envoy's ext_authz filter applying `query_parameters_to_remove` (ext_authz.cc): the query re-written
    from its parsed map, so sorted by name (tests/parity/test_extauthz.py checks this on Envoy 1.40)."""
    base, sep, query = path.partition("?")
    if not names or not sep:
        return path
    pairs = [piece.partition("=") for piece in query.split("&") if piece]
    kept = sorted(((n, v) for n, _, v in pairs if n not in names), key=lambda nv: nv[0])
    return base + ("?" + "&".join(f"{n}={v}" for n, v in kept) if kept else "")


def _pinned(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((n.lower(), v) for n, v in pairs if n.lower() in PINNED_UPSTREAM))


def observe_grpc(server: AuthzServer, case: GoldenCase) -> Observed:
    """One `Authorization/Check` RPC carrying the case's request, as Envoy would build it."""
    import grpc
    from envoy.service.auth.v3 import external_auth_pb2_grpc

    from meshgate.custom.grpc_client import check_request

    attrs: RequestAttributes = attributes_for(case)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        response = external_auth_pb2_grpc.AuthorizationStub(channel).Check(check_request(attrs), timeout=10)
    if response.status.code == 0:
        ok = response.ok_response
        pairs = [(h.header.key, h.header.value) for h in ok.headers]
        forwarded = envoy_forwarded_path(case)
        assert forwarded is not None
        path = without_query_params(forwarded, list(ok.query_parameters_to_remove))
        return Observed(200, "", None, path, _pinned(pairs))
    denied = response.denied_response
    headers = {h.header.key.lower(): h.header.value for h in denied.headers}
    return Observed(denied.status.code, denied.body, headers.get("www-authenticate"))


def _http(server: AuthzServer, method: str, target: str, headers: list[tuple[str, str]]) -> Observed:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read().decode()
        pairs = [(n.lower(), v) for n, v in resp.getheaders()]
    finally:
        conn.close()
    www = dict(pairs).get("www-authenticate")
    if resp.status == 200:
        return Observed(200, body, www, dict(pairs).get("x-meshgate-path"), _pinned(pairs))
    return Observed(resp.status, body, www)


def observe_http_envoy(server: AuthzServer, case: GoldenCase) -> Observed:
    """Envoy ext_authz HTTP mode: the authorization request *is* the original request; the peer address
    goes in `x-real-ip`, as `includeAdditionalHeadersInCheck: {x-real-ip: "%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_
    WITHOUT_PORT%"}` would add it (docs/extauthz.md)."""
    headers = [*case.request_headers, ("x-real-ip", case.source_ip)]
    seen = _http(server, case.method, case.path, headers)
    if seen.status != 200:
        return seen
    # this protocol cannot edit the query: Envoy forwards the path as it normalized it
    return Observed(200, "", seen.www_authenticate, envoy_forwarded_path(case), seen.upstream_set)


def observe_http_nginx(server: AuthzServer, case: GoldenCase) -> Observed:
    """nginx auth_request: a GET to the authorizer describing the original request in headers."""
    headers = [
        *case.request_headers,
        ("x-original-uri", case.path),
        ("x-original-method", case.method),
        ("x-real-ip", case.source_ip),
    ]
    seen = _http(server, "GET", "/_meshgate_authz", headers)
    if seen.status != 200:
        return seen
    return Observed(200, "", seen.www_authenticate, seen.upstream_path, seen.upstream_set)
