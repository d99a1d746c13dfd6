"""Policies at both hops, as Istio applies them: the gateway's own (selecting `istio: ingressgateway` in
istio-system) on the request as received, then the destination workload's on the request as the gateway
forwards it.

The surprise Istio users meet (istio.io "Authorization on ingress gateway"; Envoy's jwt_authn removes the
verified token unless `forward: true`, envoyproxy/envoy:source/extensions/filters/http/jwt_authn/
authenticator.cc): a RequestAuthentication on the gateway for the same issuer strips the Authorization
header, so the frontend's sidecar sees no token and its ALLOW rule on requestPrincipals answers 403 —
unless the gateway's rule sets `forwardOriginalToken: true`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.ingress.conftest import (
    DEMO_JWT,
    StaticJwks,
    bearer,
    call,
    example_config,
    free_port,
    start_gateway,
    upstream,
)
from tests.support.envoy_jwt import exchange, request_bytes
from tests.support.servers import Upstream

from meshgate.jose.mint import generate_key, sign_token

ISSUER = "testing@secure.istio.io"

GATEWAY_AUTHN = """\
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: ingress-jwt, namespace: istio-system}}
spec:
  selector: {{matchLabels: {{istio: ingressgateway}}}}
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: {uri}
    forwardOriginalToken: {forward}
"""
GATEWAY_DENY = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ingress-deny-admin, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
"""


@pytest.mark.parametrize(
    ("behaviour", "forward", "status", "token_upstream"),
    [
        ("the gateway's jwt_authn removes the token: the sidecar sees none, 403", "false", 403, None),
        ("forwardOriginalToken on the gateway: the sidecar verifies it, 200, then removes it", "true", 200,
         []),
    ],
)  # fmt: skip
def test_gateway_request_authentication_strips_the_token_before_the_sidecar(
    tmp_path: Path,
    jwks: StaticJwks,
    upstreams: list[Upstream],
    behaviour: str,
    forward: str,
    status: int,
    token_upstream: list[str] | None,
) -> None:
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    (config / "gateway-authn.yaml").write_text(GATEWAY_AUTHN.format(uri=jwks.url, forward=forward))
    gateway = start_gateway(config)
    try:
        reply = call(port, "/", headers=bearer(DEMO_JWT))
        assert reply.status == status, behaviour
        if token_upstream is None:
            assert reply.body == b"RBAC: access denied" and not frontend.seen
        else:
            assert frontend.seen[-1].header("authorization") == token_upstream
    finally:
        gateway.stop()


def test_gateway_policy_runs_before_routing(
    tmp_path: Path, jwks: StaticJwks, upstreams: list[Upstream]
) -> None:
    """The gateway's DENY answers at the gateway hop, before routing: the frontend never sees /admin."""
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    (config / "gateway-deny.yaml").write_text(GATEWAY_DENY)
    gateway = start_gateway(config)
    try:
        assert call(port, "/admin", headers=bearer(DEMO_JWT)).status == 403
        assert call(port, "/", headers=bearer(DEMO_JWT)).status == 200
        assert len(frontend.seen) == 1
    finally:
        gateway.stop()


def test_destination_hop_refetches_its_key_set_on_an_unknown_kid(
    tmp_path: Path, jwks: StaticJwks, upstreams: list[Upstream]
) -> None:
    """The frontend's key set rotates after startup: a token signed with the new key names an unknown kid at
    the destination hop, which refetches the key set once (jwks_cache, as the gateway's own hop does) and
    decides again — 200, proxied. Catches a destination hop that does not settle or never answers."""
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    gateway = start_gateway(config, jwks_min_refresh=0.0)
    try:
        pem, jwk = generate_key("ES256")
        keys = json.loads(jwks.document)["keys"]
        jwks.document = json.dumps({"keys": [*keys, jwk]})
        before = jwks.hits
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": ISSUER, "iat": now, "exp": now + 600}
        reply = call(port, "/rotated", headers=bearer(sign_token(pem, claims)))
        assert reply.status == 200, reply.body
        assert jwks.hits == before + 1
        assert frontend.seen[-1].target == "/rotated"
    finally:
        gateway.stop()


def test_reload_recompiles_the_destination_workloads_policies(
    tmp_path: Path, jwks: StaticJwks, upstreams: list[Upstream]
) -> None:
    """Removing the frontend's ALLOW policy: after the reload its hop allows a request without a token."""
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    gateway = start_gateway(config)
    try:
        assert call(port, "/").status == 403
        (config / "authorization-policy.yaml").unlink()
        runtime = gateway.gateway.runtime
        assert runtime.reloader is not None
        assert gateway.call(runtime.reloader.reload()) is True
        assert call(port, "/").status == 200
    finally:
        gateway.stop()


HEADER_ROUTE = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontend, namespace: default}
spec:
  hosts: ["*"]
  gateways: [frontend-gateway]
  http:
  - name: with-authorization
    match: [{headers: {authorization: {}}}]
    directResponse: {status: 299, body: {string: "route saw the token"}}
  - route: [{destination: {host: frontend.default.svc.cluster.local, port: {number: 80}}}]
"""


def test_route_sees_the_request_as_the_gateways_jwt_authn_left_it(
    tmp_path: Path, jwks: StaticJwks, upstreams: list[Upstream]
) -> None:
    """istiod gives gateways' jwt_authn providers `clear_route_cache: true`
    (istio/istio:pilot/pkg/networking/plugin/authn/authentication.go, JwtFilter(proxy.Type != SidecarProxy)):
    after a verified token is removed, Envoy picks the route again without it (observed on Envoy 1.40: a
    route matching `authorization` present is not taken); a header jwt_authn does not read stays: taken."""
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    (config / "gateway-authn.yaml").write_text(GATEWAY_AUTHN.format(uri=jwks.url, forward="false"))
    (config / "virtual-service.yaml").write_text(HEADER_ROUTE)
    gateway = start_gateway(config)
    try:
        assert call(port, "/", headers={"Authorization": "Basic abc"}).status == 299  # not a Bearer token
        reply = call(
            port, "/", headers=bearer(DEMO_JWT)
        )  # verified and removed, then routed: to the frontend
        assert (reply.status, reply.body) == (403, b"RBAC: access denied")
    finally:
        gateway.stop()


EDITED_ROUTE = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontend, namespace: default}
spec:
  hosts: ["*"]
  gateways: [frontend-gateway]
  http:
  - headers: {response: {set: {x-route: web}}}
    route: [{destination: {host: frontend.default.svc.cluster.local, port: {number: 80}}}]
"""


@pytest.mark.parametrize(
    ("behaviour", "path", "token", "names"),
    [
        ("the gateway's own 403: the route's edits first (observed on Envoy 1.40)", "/admin", DEMO_JWT,
         ["x-route", "content-length", "content-type", "date", "server"]),
        ("the sidecar's 403 passed on: service time, then the route's edits (two chained Envoy 1.40s)", "/", None,
         ["content-length", "content-type", "date", "server", "x-envoy-upstream-service-time", "x-route"]),
        ("an upstream answer: the same order", "/", DEMO_JWT,
         ["content-type", "content-length", "date", "server", "x-envoy-upstream-service-time", "x-route"]),
    ],
)  # fmt: skip
def test_route_response_edits_on_every_answer(
    tmp_path: Path, jwks: StaticJwks, upstreams: list[Upstream], behaviour: str, path: str,
    token: str | None, names: list[str],
) -> None:  # fmt: skip
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    (config / "gateway-deny.yaml").write_text(GATEWAY_DENY)
    (config / "virtual-service.yaml").write_text(EDITED_ROUTE)
    gateway = start_gateway(config)
    try:
        auth = [("Authorization", f"Bearer {token}")] if token else []
        reply = exchange(port, request_bytes("GET", path, [("Host", "a.example"), *auth]))
        assert [name for name, _ in reply.headers] == names, behaviour
        assert dict(reply.headers)["x-route"] == "web"
    finally:
        gateway.stop()
