"""A real `meshgate serve` writing its own logs into its config directory: its access log grows
every second, and no poll reloads; SIGHUP still reloads once, and a real edit once more.

The old watcher fingerprinted every file under `-c` and logged "config reloaded" once per poll here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.gateway.conftest import DEMO_JWT, ISTIO_JWKS, POLICY, ROOT, RawClient, get, wait_until

RELOADED = "config reloaded from"
TRAFFIC_S = 3.5  # more than three 1 s polls, and three 1 s access-log flushes
BLOCK_ADMIN = """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: block-admin, namespace: default}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/admin"]}
"""


def start(conf: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`meshgate serve -c CONF` with stdout (the access log) and stderr (its log) written into CONF."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONUNBUFFERED="1")
    args = ["serve", "-c", str(conf), "--listen", "127.0.0.1:0", "--admin", ""]
    with open(conf / "access.log", "wb") as out, open(conf / "meshgate.log", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "meshgate", *args],
            stdout=out,
            stderr=err,
            env=env,
            cwd=str(ROOT),
        )
    if not wait_until(lambda: "listening on" in (conf / "access.log").read_text(), timeout=20):
        proc.kill()
        proc.wait()
        raise AssertionError((conf / "meshgate.log").read_text())
    line = (conf / "access.log").read_text().splitlines()[0]
    return proc, int(line.split(" -> ")[0].rsplit(":", 1)[1])


def reloads(conf: Path) -> int:
    return (conf / "meshgate.log").read_text().count(RELOADED)


@pytest.mark.e2e
def test_serve_logging_into_its_config_dir_reloads_only_on_sighup_and_edits(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "policy.yaml").write_text(POLICY.format(jwks=ISTIO_JWKS))
    proc, port = start(conf)
    try:
        client = RawClient(port)
        deadline = time.monotonic() + TRAFFIC_S
        sent = 0
        while time.monotonic() < deadline:
            assert client.request(get(f"/r{sent}", token=DEMO_JWT)).status == 200
            sent += 1
            time.sleep(0.05)
        assert wait_until(lambda: (conf / "access.log").read_text().count('"GET /r') == sent)
        assert reloads(conf) == 0, (conf / "meshgate.log").read_text()

        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: reloads(conf) == 1)

        assert client.request(get("/admin", token=DEMO_JWT)).status == 200
        with open(conf / "policy.yaml", "a") as policy:
            policy.write(BLOCK_ADMIN)
        assert wait_until(lambda: reloads(conf) == 2)
        assert client.request(get("/admin", token=DEMO_JWT)).status == 403
        time.sleep(1.5)  # more polls, more access-log flushes: still two
        assert reloads(conf) == 2
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
