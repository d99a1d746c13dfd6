"""`meshgate demo` (gateway issue, must show 2): the printed curl commands, run as printed, give the seed's answers."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port}")


@pytest.mark.e2e
def test_demo_prints_three_curl_commands_that_give_the_seed_answers() -> None:
    listen, admin = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meshgate",
            "demo",
            "--listen",
            f"127.0.0.1:{listen}",
            "--admin",
            f"127.0.0.1:{admin}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed: list[str] = []
        while not any(line.startswith("#   -> Hello World!") for line in printed):
            line = proc.stdout.readline()
            assert line, "demo exited early: " + (proc.stderr.read() if proc.stderr else "")
            printed.append(line.rstrip("\n"))
        wait_for_port(listen)
        wait_for_port(admin)
        exports = [line for line in printed if line.startswith("export ")]
        curls = [line for line in printed if line.startswith("curl ")]
        answers = [line.split("-> ", 1)[1] for line in printed if line.startswith("#   -> ")]
        assert len(curls) == 3 and len(exports) == 2
        assert answers == ["RBAC: access denied", "Jwt issuer is not configured", "Hello World! /"]
        # readiness: the JWKS had its first fetch
        deadline = time.monotonic() + 10
        while True:
            ready = subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    f"http://127.0.0.1:{admin}/healthz/ready",
                ],
                capture_output=True,
                text=True,
            )
            if ready.stdout == "200" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for curl, answer in zip(curls, answers, strict=True):
            script = "\n".join([*exports, curl])
            out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
            assert out.stdout.strip() == answer, (curl, out.stdout, out.stderr)
        assert re.search(r"VALID_JWT=\S+\.\S+\.\S+", "\n".join(exports))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, -signal.SIGTERM), proc.returncode
