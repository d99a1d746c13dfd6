"""The seed through meshgate as the ingress (examples/ingress): the gateway routes every request to the
`frontend` service, whose workload (app: frontend in default) the seed's two policies select; they run on the
request as the gateway forwards it. The answers are Istio's (istio.io "JWT authentication" task, Envoy 1.40
jwt_authn + RBAC as istiod configures them): no token 403 `RBAC: access denied`, another issuer 401
`Jwt issuer is not configured`, demo.jwt 200 from the frontend — which never sees the token (jwt_authn
removes it: `forwardOriginalToken` is false)."""

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

from meshgate.cli.demo import another_issuers_token

OTHER_ISSUER = another_issuers_token()


@pytest.mark.parametrize(
    ("behaviour", "headers", "status", "body"),
    [
        ("no token: the sidecar's ALLOW rule needs a request principal", {}, 403, b"RBAC: access denied"),
        ("another issuer: the sidecar's jwt_authn refuses it", bearer(OTHER_ISSUER), 401,
         b"Jwt issuer is not configured"),
        ("demo.jwt: allowed, proxied to the frontend", bearer(DEMO_JWT), 200, None),
    ],
)  # fmt: skip
def test_seed_answers_through_the_gateway(
    tmp_path: Path,
    jwks: StaticJwks,
    upstreams: list[Upstream],
    behaviour: str,
    headers: dict[str, str],
    status: int,
    body: bytes | None,
) -> None:
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    gateway = start_gateway(config)
    try:
        reply = call(port, "/hello?x=1", headers=headers)
        assert reply.status == status, behaviour
        if body is not None:
            assert reply.body == body
            assert reply.header("server") == "istio-envoy"
            assert not frontend.seen  # denied at the sidecar hop: the frontend never sees it
            return
        assert json.loads(reply.body)["path"] == "/hello?x=1"
        (seen,) = frontend.seen
        assert seen.header("authorization") == []  # removed by the sidecar's jwt_authn
        assert seen.header("host") == ["example.com"]
        assert jwks.hits >= 1  # the destination workload's jwksUri was registered and fetched
        time.sleep(1.2)  # the access log is flushed once a second
        line = gateway.log.getvalue().strip().splitlines()[-1]
        assert f'"127.0.0.1:{frontend.port}"' in line
        assert "outbound|80||frontend.default.svc.cluster.local" in line
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    ("token", "status", "names", "body"),
    [
        (None, 403, ["content-length", "content-type", "date", "server", "x-envoy-upstream-service-time"],
         "RBAC: access denied"),
        (OTHER_ISSUER, 401, ["www-authenticate", "content-length", "content-type", "date", "server",
                             "x-envoy-upstream-service-time"], "Jwt issuer is not configured"),
    ],
)  # fmt: skip
def test_sidecar_denial_passes_the_gateway_as_an_upstream_response(
    tmp_path: Path, jwks: StaticJwks, upstreams: list[Upstream], token: str | None, status: int,
    names: list[str], body: str,
) -> None:  # fmt: skip
    """The frontend's sidecar answers with its local reply; the gateway passes it on as any upstream
    response, adding x-envoy-upstream-service-time after `server` — the layout two chained Envoy 1.40s gave
    (a gateway router in front of a sidecar with the seed's jwt_authn + RBAC): `content-length`,
    `content-type: text/plain`, `date`, `server: istio-envoy`, `x-envoy-upstream-service-time`."""
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    gateway = start_gateway(config)
    try:
        auth = [("Authorization", f"Bearer {token}")] if token else []
        reply = exchange(port, request_bytes("GET", "/x", [("Host", "a.example"), *auth]))
        assert (reply.status, reply.body) == (status, body)
        assert [name for name, _ in reply.headers] == names
        values = dict(reply.headers)
        assert (values["content-type"], values["server"]) == ("text/plain", "istio-envoy")
        assert values["content-length"] == str(len(body))
        if token:
            assert values["www-authenticate"] == 'Bearer realm="http://a.example/x", error="invalid_token"'
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    ("tls_mode", "realm"),
    [(None, "http://a.example/x"), ("istio", "https://a.example/x")],
)
def test_sidecar_realm_follows_the_hops_transport(
    tmp_path: Path, jwks: StaticJwks, upstreams: list[Upstream], tls_mode: str | None, realm: str
) -> None:
    """The sidecar's 401 realm names its own connection's scheme: plain text from the gateway unless the
    endpoint is labelled `security.istio.io/tlsMode: istio` (auto mTLS, mtls_checker.go)."""
    frontend = upstream(upstreams)
    port = free_port()
    config = example_config(tmp_path / "c", gateway_port=port, frontend_port=frontend.port, jwks_uri=jwks.url)
    if tls_mode is not None:
        entry = config / "service-entry.yaml"
        entry.write_text(
            entry.read_text().replace(
                "app: frontend", f"app: frontend\n      security.istio.io/tlsMode: {tls_mode}"
            )
        )
    gateway = start_gateway(config)
    try:
        reply = call(port, "/x", host="a.example", headers=bearer(OTHER_ISSUER))
        assert reply.status == 401
        assert reply.header("www-authenticate") == f'Bearer realm="{realm}", error="invalid_token"'
    finally:
        gateway.stop()
