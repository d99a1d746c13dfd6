"""Keys through the whole gateway: a real `meshgate serve` process, a real JWKS
server over HTTP and HTTPS (test CA), and curl-like requests over loopback.

Pinned: the seed flow with a remote JWKS; key rotation accepted on its first request; JWKS down at
start → 401 `Jwks remote fetch is failed`, then recovery without restart; JWKS killed later → the
last good keys keep working; a config reload through the file system, valid and invalid.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.gateway.conftest import spawn_serve
from tests.support.jwks_server import ISTIO_JWKS, JwksServer, make_test_ca
from tests.support.samples import SAMPLES

from meshgate.cli.demo import seed_yaml
from meshgate.jose.mint import generate_key, sign_token

ISSUER = "testing@secure.istio.io"
DEMO_JWT = (SAMPLES / "demo.jwt").read_text().strip()
WORKLOAD = ["--namespace", "default", "--labels", "app=frontend"]  # the seed's (meshgate.demo)


class ThreadedJwks:
    """A JwksServer on its own event loop in a thread, so a subprocess gateway can reach it."""

    def __init__(self, server: JwksServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> None:
        self.call(self.server.start())

    def stop(self) -> None:
        self.call(self.server.stop())

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def jwks() -> Iterator[ThreadedJwks]:
    served = ThreadedJwks(JwksServer())
    yield served
    served.close()


def get(port: int, token: str | None = None, path: str = "/") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def eventually(fn: Any, expected: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def serve(tmp_path: Path, config: str, *extra: str) -> Any:
    path = tmp_path / "seed.yaml"
    path.write_text(config)
    return spawn_serve(["-c", str(path), *WORKLOAD, "--listen", "127.0.0.1:0", "--admin", "", *extra])


@pytest.mark.e2e
def test_seed_flow_with_jwks_over_http(tmp_path: Path, jwks: ThreadedJwks) -> None:
    jwks.start()
    gw = serve(tmp_path, seed_yaml(jwks.server.url()))
    try:
        assert get(gw.port) == (403, "RBAC: access denied")
        assert get(gw.port, DEMO_JWT) == (200, "Hello World! /")
    finally:
        gw.stop()


@pytest.mark.e2e
def test_seed_flow_with_jwks_over_https_and_a_test_ca(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    served = ThreadedJwks(JwksServer(tls=ca))
    served.start()
    gw = serve(tmp_path, seed_yaml(served.server.url()), "--ca-file", ca.ca_file)
    try:
        assert get(gw.port, DEMO_JWT) == (200, "Hello World! /")
    finally:
        gw.stop()
        served.close()


@pytest.mark.e2e
def test_https_jwks_with_an_untrusted_certificate_is_a_fetch_failure(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    served = ThreadedJwks(JwksServer(tls=ca))
    served.start()
    gw = serve(tmp_path, seed_yaml(served.server.url()))  # no --ca-file: the system roots do not know it
    try:
        assert get(gw.port, DEMO_JWT) == (401, "Jwks remote fetch is failed")
    finally:
        gw.stop()
        served.close()


@pytest.mark.e2e
def test_rotated_key_works_on_its_first_request(tmp_path: Path, jwks: ThreadedJwks) -> None:
    jwks.start()
    gw = serve(tmp_path, seed_yaml(jwks.server.url()))
    try:
        assert get(gw.port, DEMO_JWT)[0] == 200
        pem, jwk = generate_key("RS256")
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": ISSUER, "iat": now, "exp": now + 600}  # the seed's only principal
        rotated = sign_token(pem, claims)
        document = json.loads(ISTIO_JWKS)
        document["keys"].append(jwk)
        jwks.server.document = json.dumps(document)  # the issuer publishes its new key
        hits = jwks.server.hits
        assert get(gw.port, rotated) == (200, "Hello World! /")  # first request: refetch, then allow
        assert jwks.server.hits == hits + 1
    finally:
        gw.stop()


@pytest.mark.e2e
def test_jwks_down_at_start_then_recovery_without_restart(tmp_path: Path, jwks: ThreadedJwks) -> None:
    gw = serve(tmp_path, seed_yaml(jwks.server.url()))
    try:
        assert get(gw.port, DEMO_JWT) == (401, "Jwks remote fetch is failed")
        assert get(gw.port) == (403, "RBAC: access denied")  # no token: the policy decides
        jwks.start()
        assert eventually(lambda: get(gw.port, DEMO_JWT), (200, "Hello World! /")) == (200, "Hello World! /")
    finally:
        gw.stop()


@pytest.mark.e2e
def test_jwks_killed_later_keeps_the_last_good_keys(tmp_path: Path, jwks: ThreadedJwks) -> None:
    jwks.start()
    gw = serve(tmp_path, seed_yaml(jwks.server.url()))
    try:
        assert get(gw.port, DEMO_JWT)[0] == 200
        jwks.stop()
        other = sign_token(
            SAMPLES.joinpath("key.pem").read_bytes(), {"iss": ISSUER, "sub": ISSUER, "jti": "after"}
        )
        assert get(gw.port, DEMO_JWT) == (200, "Hello World! /")
        assert get(gw.port, other) == (200, "Hello World! /")
    finally:
        gw.stop()


@pytest.mark.e2e
def test_config_reload_valid_then_invalid(tmp_path: Path, jwks: ThreadedJwks) -> None:
    jwks.start()
    gw = serve(tmp_path, seed_yaml(jwks.server.url()))
    config = tmp_path / "seed.yaml"
    try:
        assert get(gw.port) == (403, "RBAC: access denied")
        # valid: a DENY policy with the same rule now allows anonymous requests
        config.write_text(seed_yaml(jwks.server.url()).replace("action: ALLOW", "action: DENY"))
        assert eventually(lambda: get(gw.port), (200, "Hello World! /")) == (200, "Hello World! /")
        # invalid: rejected with file:line on the log, the previous config keeps serving
        config.write_text(seed_yaml(jwks.server.url()).replace("action: ALLOW", "action: PERMIT"))
        time.sleep(2.5)
        assert get(gw.port) == (200, "Hello World! /")
        assert get(gw.port, DEMO_JWT) == (403, "RBAC: access denied")
    finally:
        gw.stop()
    logged = b"".join(gw.stderr + gw.stdout).decode()
    assert f"{config}:" in logged and "PERMIT" in logged, logged[-2000:]
