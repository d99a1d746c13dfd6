"""`meshgate serve` as a real process: bodies streamed without buffering (RSS), SIGTERM drain, workers,
bad config at start. The gateway's RSS is read from /proc while 50 MB flow through it each way.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.gateway.conftest import (
    DEMO_JWT,
    RawClient,
    ServeProcess,
    Upstream,
    get,
    rss_kib,
    spawn_serve,
    wait_until,
    write_policy,
)

BODY_MB = 50
RSS_SLACK_KIB = 20 * 1024  # far below the 50 MiB body: the body is never held whole


def serve(tmp_path: Path, upstream: Upstream, *extra: str) -> ServeProcess:
    policy = write_policy(tmp_path)
    return spawn_serve(
        ["-c", policy, "--listen", "127.0.0.1:0", "--upstream", upstream.url, "--admin", "", *extra]
    )


class PeakRss:
    """Samples a process's RSS every 10 ms in a thread; `.peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.running = pid, rss_kib(pid), True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


@pytest.mark.e2e
@pytest.mark.parametrize("direction", ["upload", "download"])
def test_50mb_body_streams_without_rss_growth(tmp_path: Path, upstream: Upstream, direction: str) -> None:
    gw = serve(tmp_path, upstream)
    try:
        client = RawClient(gw.port, timeout=60)
        assert client.request(get("/warm", token=DEMO_JWT)).status == 200
        baseline = gw.rss_kib()
        sampler = PeakRss(gw.proc.pid)
        size = BODY_MB << 20
        if direction == "upload":
            client.send(get("/upload", token=DEMO_JWT, method="POST", extra=f"Content-Length: {size}\r\n"))
            block = b"u" * (1 << 20)
            for _ in range(BODY_MB):
                client.send(block)
            assert client.read_response().body == b'{"path": "/upload", "received": %d}' % size
        else:
            client.send(get(f"/big?n={size}", token=DEMO_JWT))
            received = 0
            client.sock.settimeout(60)
            while b"\r\n\r\n" not in client.buffer:
                client.buffer += client.sock.recv(1 << 16)
            head, _, rest = client.buffer.partition(b"\r\n\r\n")
            assert f"content-length: {size}".encode() in head
            received = len(rest)
            while received < size:
                received += len(client.sock.recv(1 << 20))
            assert received == size
        peak = sampler.stop()
        assert peak - baseline < RSS_SLACK_KIB, (baseline, peak)
        client.close()
    finally:
        assert gw.stop() == 0


@pytest.mark.e2e
def test_sigterm_drains_in_flight_requests_then_exits_0(tmp_path: Path, upstream: Upstream) -> None:
    gw = serve(tmp_path, upstream)
    client = RawClient(gw.port)
    client.send(get("/slow?s=1", token=DEMO_JWT))
    assert wait_until(lambda: len(upstream.seen) == 1)
    gw.proc.send_signal(15)
    assert wait_until(lambda: _refused(gw.port), timeout=3)  # stopped accepting
    response = client.read_response()
    assert response.status == 200 and response.header("connection") == "close"
    assert gw.proc.wait(10) == 0


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


@pytest.mark.e2e
def test_workers_share_the_port(tmp_path: Path, upstream: Upstream) -> None:
    gw = serve(tmp_path, upstream, "--workers", "2")
    try:
        for _ in range(6):  # each on a new connection: the kernel spreads them over the workers
            client = RawClient(gw.port)
            assert client.request(get("/w", token=DEMO_JWT)).status == 200
            client.close()
    finally:
        assert gw.stop() == 0
    assert sum(b"listening on" in line for line in gw.stdout) == 1  # worker 0 announces


BAD_CONFIGS: list[tuple[str, str, dict[str, Any]]] = [
    # (id, policy text, expectations) — config/validation/authn.py messages are istiod's; we only pin file:line
    ("invalid-action", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\n"
     "spec:\n  action: BOGUS\n", {}),
    ("unparsable-yaml", "kind: [unclosed\n", {}),
]  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize("policy", [c[1] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_at_start_prints_file_line_and_exits_2(tmp_path: Path, policy: str) -> None:
    path = write_policy(tmp_path, policy)
    gw = spawn_serve(["-c", path, "--listen", "127.0.0.1:0", "--admin", ""], wait_listen=False)
    out, err = gw.proc.communicate(timeout=30)
    assert gw.proc.returncode == 2
    assert re.search(rf"^{re.escape(path)}:\d+: ", err.decode(), re.MULTILINE), err
    assert b"Traceback" not in err and b"listening on" not in out
