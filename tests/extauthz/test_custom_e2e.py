"""A CUSTOM AuthorizationPolicy delegating to an `envoyExtAuthzHttp` provider
(a second meshgate authz-server running the seed) works end to end, including the provider down: fail
closed by default (403, empty body: Envoy ext_authz `status_on_error`), open with `failOpen`
(docs/istio-semantics.md §5.9)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.extauthz.conftest import LoopThread, free_port, start_authz
from tests.golden.cases import DEMO_JWT, OTHER_ISSUER_JWT, SEED_YAML

from meshgate.extauthz.service import AuthzServer

CUSTOM_POLICY = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: CUSTOM
  provider: {name: meshgate-seed}
  rules: [{}]
"""
MESH = """\
extensionProviders:
- name: meshgate-seed
  envoyExtAuthzHttp: {{service: "meshgate/127.0.0.1", port: {port}, timeout: 2s, failOpen: {fail_open}}}
"""
WWW = 'Bearer realm="http://app.example/", error="invalid_token"'
# (token, provider up?, failOpen) → (status, body, www-authenticate)
ROWS = [
    pytest.param(
        None, True, False, (403, "RBAC: access denied", None), id="no token: the provider's RBAC 403"
    ),
    pytest.param(
        OTHER_ISSUER_JWT,
        True,
        False,
        (401, "Jwt issuer is not configured", WWW),
        id="other issuer: the provider's 401 and www-authenticate",
    ),
    pytest.param(DEMO_JWT, True, False, (200, "", None), id="demo.jwt: provider allows, front allows"),
    pytest.param(DEMO_JWT, False, False, (403, "", None), id="provider down: fail closed, 403 empty"),
    pytest.param(DEMO_JWT, False, True, (200, "", None), id="provider down + failOpen: allowed"),
]


def _get(port: int, token: str | None, path: str = "/") -> tuple[int, str, str | None]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": "app.example"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("www-authenticate")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), err.headers.get("www-authenticate")


@pytest.fixture
def provider(loop_thread: LoopThread, tmp_path: Path) -> Iterator[AuthzServer]:
    (tmp_path / "seed.yaml").write_text(SEED_YAML)
    server = start_authz(loop_thread, tmp_path / "seed.yaml", grpc="", admin="")
    yield server
    loop_thread.run(server.stop())


def _front_files(tmp_path: Path, provider_port: int, fail_open: bool) -> tuple[Path, Path]:
    (tmp_path / "front.yaml").write_text(CUSTOM_POLICY)
    (tmp_path / "mesh.yaml").write_text(MESH.format(port=provider_port, fail_open=str(fail_open).lower()))
    return tmp_path / "front.yaml", tmp_path / "mesh.yaml"


@pytest.mark.e2e
@pytest.mark.parametrize(("token", "up", "fail_open", "answer"), ROWS)
def test_custom_through_the_authz_server_front(
    loop_thread: LoopThread,
    provider: AuthzServer,
    tmp_path: Path,
    token: str | None,
    up: bool,
    fail_open: bool,
    answer: tuple[int, str, str | None],
) -> None:
    assert provider.http_port is not None
    provider_port = provider.http_port if up else free_port()
    front_cfg, mesh = _front_files(tmp_path, provider_port, fail_open)
    front = start_authz(loop_thread, front_cfg, grpc="", admin="", mesh_config=str(mesh))
    try:
        assert front.http_port is not None
        assert _get(front.http_port, token) == answer
    finally:
        loop_thread.run(front.stop())


@pytest.mark.e2e
@pytest.mark.parametrize(("token", "up", "fail_open", "answer"), ROWS)
def test_custom_through_serve(
    provider: AuthzServer,
    tmp_path: Path,
    token: str | None,
    up: bool,
    fail_open: bool,
    answer: tuple[int, str, str | None],
) -> None:
    assert provider.http_port is not None
    front_cfg, mesh = _front_files(tmp_path, provider.http_port if up else free_port(), fail_open)
    listen = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meshgate",
            "serve",
            "-c",
            str(front_cfg),
            "--mesh-config",
            str(mesh),
            "--listen",
            f"127.0.0.1:{listen}",
            "--admin",
            "",
            "--namespace",
            "istio-system",
            "--labels",
            "istio=ingressgateway",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body, www = _get(listen, token)
                break
            except (ConnectionError, urllib.error.URLError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
                time.sleep(0.1)
        expected_body = "Hello World! /" if answer[0] == 200 else answer[1]
        assert (status, body.strip(), www) == (answer[0], expected_body, answer[2])
    finally:
        proc.terminate()
        proc.wait(10)
