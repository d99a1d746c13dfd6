"""`meshgate check` on the seed's two policies (engine issue, must show 3), with a real JWKS server."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.golden.cases import DEMO_JWT, OTHER_ISSUER_JWT, SAMPLE_JWKS, sample_token

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "seed"
WORKLOAD = ["--namespace", "istio-system", "--labels", "istio=ingressgateway"]


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = SAMPLE_JWKS.encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The seed's YAML verbatim, but its jwksUri pointed at a real JWKS server on loopback."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    local_uri = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    out = tmp_path_factory.mktemp("seed")
    for path in SEED.glob("*.yaml"):
        text = path.read_text().replace(
            "https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json",
            local_uri,
        )
        (out / path.name).write_text(text)
    yield out
    server.shutdown()


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshgate", "check", *args], capture_output=True, text=True, timeout=60
    )


def test_seed_no_token_is_rbac_denied(seed_dir: Path) -> None:
    proc = run_check("-c", str(seed_dir), *WORKLOAD, "--json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["status"], out["body"], out["headers"]) == (403, "RBAC: access denied", {})
    assert out["trace"]["authz"]["policy_id"] == "ns[istio-system]-policy[frontend-ingress]-rule[0]"


def test_seed_token_of_another_issuer_is_401(seed_dir: Path) -> None:
    proc = run_check("-c", str(seed_dir), *WORKLOAD, "--token", OTHER_ISSUER_JWT, "--json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["status"], out["body"]) == (401, "Jwt issuer is not configured")
    assert out["headers"] == {"www-authenticate": 'Bearer realm="http://localhost/", error="invalid_token"'}


def test_seed_demo_jwt_is_allowed(seed_dir: Path) -> None:
    proc = run_check("-c", str(seed_dir), *WORKLOAD, "--token", DEMO_JWT, "--path", "/headers", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = json.loads(proc.stdout)
    assert out["status"] == 200
    assert out["upstream"]["path"] == "/headers"
    assert "authorization" in out["upstream"]["remove"]
    assert out["trace"]["authn"]["principal"] == "testing@secure.istio.io/testing@secure.istio.io"


def test_human_output_explains_the_failing_check(seed_dir: Path) -> None:
    proc = run_check("-c", str(seed_dir), *WORKLOAD, "--token", sample_token(exp=1))
    assert proc.returncode == 1
    assert "DENIED: 401 Unauthorized" in proc.stdout
    assert "body: Jwt is expired" in proc.stdout
    assert "Jwt is expired" in proc.stdout.split("trace: authn", 1)[1]


def test_jwks_down_is_jwks_fetch_failure(tmp_path: Path) -> None:
    for path in SEED.glob("*.yaml"):
        text = path.read_text().replace(
            "https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json",
            "http://127.0.0.1:9/jwks.json",
        )
        (tmp_path / path.name).write_text(text)
    proc = run_check("-c", str(tmp_path), *WORKLOAD, "--token", DEMO_JWT, "--json")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert (out["status"], out["body"]) == (401, "Jwks remote fetch is failed")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["-c", "/nonexistent/dir"], 2),
        (["-c", str(SEED), "--labels", "novalue"], 2),
        (["-c", str(SEED), "--header", "no colon"], 2),
    ],
    ids=["missing config", "bad labels", "bad header"],
)
def test_bad_usage_exits_2(args: list[str], code: int) -> None:
    proc = run_check(*args)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
