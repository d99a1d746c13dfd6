"""`meshgate demo`: it prints the seed (examples/seed, only its jwksUri moved to loopback, and says so) and
the routing of examples/ingress (only its ports moved), serves as the ingress in front of the built-in
frontend, then prints three curl commands that, run as printed, give the seed's answers — the ones a real
Envoy 1.40 gives with jwt_authn + RBAC as istiod configures them: 403 `RBAC: access denied` (no token: the ALLOW rule's
requestPrincipals do not match), 401 `Jwt issuer is not configured`, 200 `Hello World! /`."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshgate.cli.demo import INGRESS_FILES, SEED_FILES, SEED_JWKS_URI

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
INGRESS = Path(__file__).resolve().parents[2] / "examples" / "ingress"
PACKAGED = Path(__file__).resolve().parents[2] / "src" / "meshgate" / "data"
ANSWERS = [
    "RBAC: access denied (HTTP 403)",
    "Jwt issuer is not configured (HTTP 401)",
    "Hello World! / (HTTP 200)",
]


@pytest.mark.parametrize(
    ("packaged", "example"),
    [(SEED_FILES[0], "request-authentication.yaml"), (SEED_FILES[1], "authorization-policy.yaml")],
)
def test_the_demo_ships_examples_seed_byte_for_byte(packaged: str, example: str) -> None:
    assert (PACKAGED / packaged).read_bytes() == (SEED / example).read_bytes()


@pytest.mark.parametrize(
    ("packaged", "example"),
    [
        *zip(INGRESS_FILES, ("gateway.yaml", "virtual-service.yaml", "service-entry.yaml"), strict=True),
        (SEED_FILES[0], "request-authentication.yaml"),
        (SEED_FILES[1], "authorization-policy.yaml"),
    ],
)
def test_the_demo_ships_examples_ingress_byte_for_byte(packaged: str, example: str) -> None:
    """examples/ingress is what the demo serves: its routing, and the seed's policies unchanged."""
    assert (PACKAGED / packaged).read_bytes() == (INGRESS / example).read_bytes()


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
    listen, admin, frontend = free_port(), free_port(), free_port()
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
            "--frontend",
            str(frontend),
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
        assert answers == ANSWERS
        # the two resources, before the curls: examples/seed verbatim but for the announced jwksUri
        assert printed[0].endswith(
            f"as the ingress on http://127.0.0.1:{listen}/, routed to the built-in frontend on "
            f"127.0.0.1:{frontend}: the workload app=frontend in namespace default"
        )
        assert printed[1] == f"jwksUri rewritten: {SEED_JWKS_URI}"
        loopback = re.fullmatch(r"  -> (http://127\.0\.0\.1:\d+/jwks\.json) \(.*\)", printed[2])
        assert loopback is not None, printed[2]
        shown = printed[4 : printed.index("")]
        seed = "---\n".join(
            (SEED / name).read_text() for name in ("request-authentication.yaml", "authorization-policy.yaml")
        )
        assert shown == [
            "  " + line if line else "" for line in seed.replace(SEED_JWKS_URI, loopback[1]).splitlines()
        ]
        # then the routing: examples/ingress but for the two ports
        routing = printed.index("") + 1
        assert printed[routing].startswith(f"routing (examples/ingress, gateway port {listen}, frontend")
        shown = printed[routing + 1 : printed.index("", routing)]
        ingress = "---\n".join((INGRESS / n).read_text() for n in ("gateway.yaml", "virtual-service.yaml",
                                                                   "service-entry.yaml"))  # fmt: skip
        ingress = ingress.replace("number: 8080", f"number: {listen}").replace(
            "http: 18080", f"http: {frontend}"
        )
        assert shown == ["  " + line if line else "" for line in ingress.splitlines()]
        wait_for_port(frontend)
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
