"""A real nginx with `auth_request` (deploy/nginx/meshgate-authz.conf, run as
is) in front of an upstream, asking meshgate: the seed flow gives the seed's answers with Envoy's exact
status, body and `www-authenticate`; the upstream gets the normalized path and never the token."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.extauthz.conftest import LoopThread, Upstream, free_port, start_authz
from tests.extauthz.test_http_modes import MODES_YAML
from tests.golden.cases import AUDIENCE_YAML, DEMO_JWT, OTHER_ISSUER_JWT, SEED_YAML
from tests.golden.harness import Observed

from meshgate.extauthz.service import AuthzServer

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "meshgate-authz.conf"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (apt-get install nginx)"),
]


def _realm(port: int, path: str) -> str:
    return f'Bearer realm="http://127.0.0.1:{port}{path}", error="invalid_token"'


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, "nginx exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("nginx did not listen")


def _nginx(tmp: Path, authz: AuthzServer, upstream: Upstream) -> Iterator[int]:
    listen = free_port()
    prefix = tmp / "nginx"
    prefix.mkdir()
    conf = TEMPLATE.read_text()
    for key, value in {
        "@LISTEN@": f"127.0.0.1:{listen}",
        "@AUTHZ@": f"127.0.0.1:{authz.http_port}",
        "@UPSTREAM@": f"127.0.0.1:{upstream.port}",
        "@PREFIX@": str(prefix),
    }.items():
        conf = conf.replace(key, value)
    (prefix / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        [NGINX, "-c", str(prefix / "nginx.conf"), "-p", str(prefix)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(listen, proc)
        yield listen
    finally:
        proc.terminate()
        proc.wait(10)


def _get(
    port: int, path: str, token: str | None, extra: dict[str, str] | None = None
) -> tuple[Observed, str | None]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request("GET", path, headers={**headers, **(extra or {})})
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    return Observed(resp.status, body, resp.getheader("www-authenticate")), resp.getheader("content-type")


@pytest.fixture(params=["auto", "nginx"])
def seed_nginx(
    request: pytest.FixtureRequest, loop_thread: LoopThread, tmp_path: Path, upstream: Upstream
) -> Iterator[int]:
    """The shipped nginx config in front of meshgate's HTTP port, in `auto` and in `--http-mode nginx`."""
    (tmp_path / "seed.yaml").write_text(SEED_YAML)
    authz = start_authz(loop_thread, tmp_path / "seed.yaml", grpc="", admin="", http_mode=request.param)
    try:
        yield from _nginx(tmp_path, authz, upstream)
    finally:
        loop_thread.run(authz.stop())


@pytest.mark.parametrize(
    ("path", "token", "answer"),
    [
        pytest.param("/", None, Observed(403, "RBAC: access denied", None), id="seed: no token → 403 RBAC"),
        pytest.param(
            "/a/../b?x=1",
            OTHER_ISSUER_JWT,
            Observed(401, "Jwt issuer is not configured", "REALM"),
            id="seed: other issuer → 401, realm with the normalized path",
        ),
        pytest.param("/", DEMO_JWT, Observed(200, "Hello World! /", None), id="seed: demo.jwt → upstream"),
        pytest.param(
            "/a/../headers?x=1",
            DEMO_JWT,
            Observed(200, "Hello World! /headers?x=1", None),
            id="the upstream gets the path the policy was decided on",
        ),
    ],
)
def test_seed_flow_through_nginx(
    seed_nginx: int, upstream: Upstream, path: str, token: str | None, answer: Observed
) -> None:
    seen, content_type = _get(seed_nginx, path, token)
    if answer.www_authenticate == "REALM":
        answer = Observed(answer.status, answer.body, _realm(seed_nginx, "/b?x=1"))
    assert seen == answer
    if answer.status == 200:
        assert "authorization" not in upstream.seen[-1]
    else:
        assert content_type == "text/plain"


def test_audience_403_keeps_www_authenticate(
    loop_thread: LoopThread, tmp_path: Path, upstream: Upstream
) -> None:
    """A 403 with www-authenticate (docs/istio-semantics.md §1): nginx only passes it itself for 401."""
    (tmp_path / "aud.yaml").write_text(AUDIENCE_YAML)
    authz = start_authz(loop_thread, tmp_path / "aud.yaml", grpc="", admin="")
    try:
        for port in _nginx(tmp_path, authz, upstream):
            seen, _ = _get(port, "/x", DEMO_JWT)
            assert seen == Observed(403, "Audiences in Jwt are not allowed", _realm(port, "/x"))
    finally:
        loop_thread.run(authz.stop())


@pytest.mark.parametrize(
    ("mode", "headers", "status"),
    [
        pytest.param("nginx", {}, 200, id="nginx: allowed as asked"),
        pytest.param("nginx", {"Host": "other.example"}, 403, id="nginx: Host is the authority"),
        pytest.param(
            "nginx",
            {"Host": "other.example", "X-Forwarded-Host": "app.example"},
            403,
            id="nginx: a client's X-Forwarded-Host (passed on by auth_request) is ignored",
        ),
        pytest.param(
            "nginx",
            {"Host": "other.example", "X-Original-Host": "app.example"},
            403,
            id="nginx: a client's X-Original-Host is ignored",
        ),
        pytest.param(
            "auto",
            {"Host": "other.example", "X-Forwarded-Host": "app.example"},
            403,
            id="auto: the shipped config clears a client's X-Forwarded-Host",
        ),
        pytest.param(
            "auto",
            {"Host": "other.example", "X-Original-Host": "app.example", "X-Forwarded-Uri": "/public/x"},
            403,
            id="auto: the shipped config clears a client's X-Original-Host and X-Forwarded-Uri",
        ),
    ],
)
def test_nginx_mode_reads_only_what_nginx_sets(
    loop_thread: LoopThread,
    tmp_path: Path,
    upstream: Upstream,
    mode: str,
    headers: dict[str, str],
    status: int,
) -> None:
    """auth_request's subrequest carries every client header; only the ones the config sets are nginx's."""
    (tmp_path / "modes.yaml").write_text(MODES_YAML)
    authz = start_authz(loop_thread, tmp_path / "modes.yaml", grpc="", admin="", http_mode=mode)
    try:
        for port in _nginx(tmp_path, authz, upstream):
            seen, _ = _get(port, "/public/x", None, {"Host": "app.example", **headers})
            assert seen.status == status
    finally:
        loop_thread.run(authz.stop())
