"""Workload per request: a gRPC context extension or the proxy's header names the workload whose
policies apply (selection: docs/istio-semantics.md §2); else the `--namespace/--labels` flags."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.extauthz.conftest import LoopThread, needs_grpc, start_authz
from tests.golden.cases import ISSUER, OTHER_ISSUER_JWT, SAMPLE_JWKS

from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.extauthz.service import AuthzServer

SHOP_ONLY = f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: shop-jwt, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: secure}}}}
  jwtRules:
  - issuer: "{ISSUER}"
    jwks: {json.dumps(SAMPLE_JWKS)}
"""
ROWS = [
    pytest.param(None, None, 200, id="flags' workload (istio-system): the shop rule does not apply"),
    pytest.param("shop", "app=secure", 401, id="shop/app=secure: its JWT rule rejects the other issuer"),
    pytest.param("shop", "app=other", 200, id="shop/app=other: selector does not match"),
    pytest.param("shop", "app", 403, id="malformed labels: denied, never the flags' workload"),
]


@pytest.fixture(scope="module")
def server(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthzServer]:
    config = tmp_path_factory.mktemp("workload") / "shop.yaml"
    config.write_text(SHOP_ONLY)
    s = start_authz(loop_thread, config, admin="")
    yield s
    loop_thread.run(s.stop())


@needs_grpc
@pytest.mark.parametrize(("namespace", "labels", "status"), ROWS)
def test_grpc_context_extensions(
    server: AuthzServer, namespace: str | None, labels: str | None, status: int
) -> None:
    import grpc
    from envoy.service.auth.v3 import external_auth_pb2_grpc

    from meshgate.custom.grpc_client import check_request

    ext = {k: v for k, v in (("namespace", namespace), ("labels", labels)) if v is not None}
    headers = build_headers([("host", "h"), ("authorization", f"Bearer {OTHER_ISSUER_JWT}")])
    request = check_request(RequestAttributes("GET", "/", "h", headers=headers), ext)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        response = external_auth_pb2_grpc.AuthorizationStub(channel).Check(request, timeout=10)
    assert (response.denied_response.status.code or 200) == status


@pytest.mark.parametrize(("namespace", "labels", "status"), ROWS)
def test_http_workload_headers(
    server: AuthzServer, namespace: str | None, labels: str | None, status: int
) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    headers = {"Host": "h", "Authorization": f"Bearer {OTHER_ISSUER_JWT}"}
    headers.update(
        {k: v for k, v in (("X-Meshgate-Namespace", namespace), ("X-Meshgate-Labels", labels)) if v}
    )
    conn.request("GET", "/", headers=headers)
    assert conn.getresponse().status == status
    conn.close()


def test_compiled_workloads_are_dropped_on_reload(server: AuthzServer, loop_thread: LoopThread) -> None:
    """A reload swaps the engine; per-workload engines compiled from the old resources must go too."""
    from meshgate.extauthz.attributes import WorkloadOverride
    from meshgate.extauthz.decide import ExtAuthzDecider

    decider = ExtAuthzDecider(server.state)
    shop = WorkloadOverride("shop", {"app": "secure"})
    first = loop_thread.run(decider.engine_for(shop))
    assert loop_thread.run(decider.engine_for(shop)) is first
    assert loop_thread.run(server.reloader.reload())
    assert loop_thread.run(decider.engine_for(shop)) is not first
