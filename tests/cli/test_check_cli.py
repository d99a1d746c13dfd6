"""`meshgate check` on the seed's two policies, with a real
JWKS server: examples/seed (ALLOW requestPrincipals, namespace default, app=frontend) and Istio's ingress
variant examples/ingress-deny (DENY notRequestPrincipals ["*"] in istio-system) — the same three answers,
decided by different rules (the trace says which)."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.golden.cases import DEMO_JWT, OTHER_ISSUER_JWT, SAMPLE_JWKS, sample_token

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "seed"
INGRESS_DENY = ROOT / "examples" / "ingress-deny"
WORKLOAD = ["--namespace", "default", "--labels", "app=frontend"]  # the README's walkthrough
INGRESS_WORKLOAD = ["--namespace", "istio-system", "--labels", "istio=ingressgateway"]
# the jwksUri each example names (Istio's sample key set), replaced by a loopback server here
JWKS_URIS = {
    SEED: "https://raw.githubusercontent.com/istio/istio/release-1.5/security/tools/jwt/samples/jwks.json",
    INGRESS_DENY: "https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json",
}


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


def _local_copy(example: Path, out: Path, jwks_uri: str) -> Path:
    """The example's YAML verbatim but for its jwksUri (which must be there to be replaced)."""
    for path in example.glob("*.yaml"):
        text = path.read_text()
        if "jwksUri" in text:
            assert JWKS_URIS[example] in text, path
        (out / path.name).write_text(text.replace(JWKS_URIS[example], jwks_uri))
    return out


@pytest.fixture(scope="module")
def jwks_uri() -> Iterator[str]:
    """A real JWKS server on loopback serving Istio's sample key set."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory, jwks_uri: str) -> Path:
    return _local_copy(SEED, tmp_path_factory.mktemp("seed"), jwks_uri)


@pytest.fixture(scope="module")
def ingress_dir(tmp_path_factory: pytest.TempPathFactory, jwks_uri: str) -> Path:
    return _local_copy(INGRESS_DENY, tmp_path_factory.mktemp("ingress-deny"), jwks_uri)


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshgate", "check", *args], capture_output=True, text=True, timeout=60
    )


def test_seed_no_token_is_rbac_denied(seed_dir: Path) -> None:
    proc = run_check("-c", str(seed_dir), *WORKLOAD, "--json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["status"], out["body"], out["headers"]) == (403, "RBAC: access denied", {})
    authz = out["trace"]["authz"]
    assert (authz["action"], authz["policy_id"], authz["reason"]) == (
        "ALLOW",
        None,
        "no ALLOW policy matched",
    )


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
    assert out["trace"]["authz"]["policy_id"] == "ns[default]-policy[require-jwt]-rule[0]"


def test_seed_is_for_its_workload_only(seed_dir: Path) -> None:
    """Another workload has no policy: allowed without a token (Istio: no policy, no enforcement)."""
    proc = run_check("-c", str(seed_dir), "--namespace", "default", "--labels", "app=backend", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert json.loads(proc.stdout)["status"] == 200


@pytest.mark.parametrize(
    ("token", "status", "body", "trace"),
    [
        (None, 403, "RBAC: access denied", ("authz", "policy_id", "ns[istio-system]-policy[frontend-ingress]-rule[0]")),
        (OTHER_ISSUER_JWT, 401, "Jwt issuer is not configured", ("authn", "outcome", "failed")),
        (DEMO_JWT, 200, "", ("authz", "reason", "no ALLOW policy applies: allowed")),
    ],
    ids=["no token: the DENY rule matches", "another issuer: jwt_authn", "demo.jwt: no DENY rule matches"],
)  # fmt: skip
def test_ingress_deny_example(
    ingress_dir: Path, token: str | None, status: int, body: str, trace: tuple[str, str, str]
) -> None:
    """Istio's ingress variant: the same answers as the seed, through a DENY rule on the gateway."""
    args = ["-c", str(ingress_dir), *INGRESS_WORKLOAD, "--json", *(["--token", token] if token else [])]
    proc = run_check(*args)
    assert proc.returncode == (0 if status == 200 else 1), proc.stderr
    out = json.loads(proc.stdout)
    section, key, value = trace
    assert (out["status"], out["body"], out["trace"][section][key]) == (status, body, value)


def test_human_output_explains_the_failing_check(seed_dir: Path) -> None:
    proc = run_check("-c", str(seed_dir), *WORKLOAD, "--token", sample_token(exp=1))
    assert proc.returncode == 1
    assert "DENIED: 401 Unauthorized" in proc.stdout
    assert "body: Jwt is expired" in proc.stdout
    assert "Jwt is expired" in proc.stdout.split("trace: authn", 1)[1]


def test_jwks_down_is_jwks_fetch_failure(tmp_path: Path) -> None:
    _local_copy(SEED, tmp_path, "http://127.0.0.1:9/jwks.json")
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


def _walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## The seed walkthrough", 1)[1].split("\n## ", 1)[0]


def test_readme_walkthrough_shows_examples_seed_verbatim() -> None:
    text = _walkthrough()
    ra, ap = (
        (SEED / name).read_text() for name in ("request-authentication.yaml", "authorization-policy.yaml")
    )
    assert f"```yaml\n{ra}---\n{ap}```" in text


def test_readme_check_commands_answer_as_the_walkthrough_says(seed_dir: Path, ingress_dir: Path) -> None:
    """Every `meshgate check` of the walkthrough, run as printed (examples pointed at the loopback JWKS)."""
    text = _walkthrough().replace("\\\n", "")
    commands = [line.strip() for line in text.splitlines() if line.startswith("    meshgate check ")]
    commands += re.findall(r"`(meshgate check -c examples/ingress-deny[^`]*)`", text)
    answers = []
    for command in commands:
        command = command.replace("examples/seed", str(seed_dir)).replace(
            "examples/ingress-deny", str(ingress_dir)
        )
        command = command.replace("meshgate ", f"{sys.executable} -m meshgate ", 1)
        proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=ROOT)
        first = proc.stdout.splitlines()[0] if proc.stdout else proc.stderr
        answers.append((proc.returncode, json.loads(proc.stdout)["status"] if "--json" in command else first))
    assert answers == [(1, "DENIED: 403 Forbidden"), (0, 200), (1, "DENIED: 403 Forbidden")]
