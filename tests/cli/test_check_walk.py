"""`meshgate check --host/--path` on examples/ingress as the gateway workload (istio=ingressgateway in
istio-system): the whole walk — the gateway hop, the route (VirtualService, rule, file:line), and the
frontend's hop on the request as the gateway forwards it, with the seed's answers (403 RBAC at the sidecar
without a token, 401 from another issuer, 200 with demo.jwt and the token removed upstream)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.golden.cases import DEMO_JWT, OTHER_ISSUER_JWT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ingress"
JWKS = ROOT / "src" / "meshgate" / "data" / "jwks.json"
SEED_URI = "https://raw.githubusercontent.com/istio/istio/release-1.5/security/tools/jwt/samples/jwks.json"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/ingress with the seed's jwksUri pointing at Istio's sample key set on disk (file://)."""
    out = tmp_path_factory.mktemp("ingress")
    for source in EXAMPLE.glob("*.yaml"):
        (out / source.name).write_text(source.read_text().replace(SEED_URI, JWKS.as_uri()))
    return out


def check(config: Path, *extra: str) -> tuple[int, dict[str, object]]:
    args = ["-c", str(config), "--namespace", "istio-system", "--labels", "istio=ingressgateway", "--json"]
    done = subprocess.run([sys.executable, "-m", "meshgate", "check", *args, *extra],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return done.returncode, json.loads(done.stdout)


@pytest.mark.parametrize(
    ("behaviour", "token", "code", "final"),
    [
        ("no token: the frontend's sidecar denies", None, 1, (403, "RBAC: access denied")),
        ("another issuer: the frontend's jwt_authn refuses", OTHER_ISSUER_JWT, 1,
         (401, "Jwt issuer is not configured")),
        ("demo.jwt: allowed at both hops, the token removed upstream", DEMO_JWT, 0, (200, "")),
    ],
)  # fmt: skip
def test_walk(config: Path, behaviour: str, token: str | None, code: int, final: tuple[int, str]) -> None:
    extra = ["--host", "shop.example", "--path", "/hello"] + (["--token", token] if token else [])
    returncode, report = check(config, *extra)
    assert returncode == code, behaviour
    gateway, route, destination = report["gateway"], report["route"], report["destination"]
    assert isinstance(gateway, dict) and gateway["status"] == 200  # the gateway has no policy of its own
    assert isinstance(route, dict) and route["outcome"] == "forward"
    assert route["route"] == {"virtual_service": "default/frontend", "http": 0, "match": 0, "name": None,
                              "source": f"{config / 'virtual-service.yaml'}:15"}  # fmt: skip
    assert route["cluster"] == "outbound|80||frontend.default.svc.cluster.local"
    assert isinstance(destination, dict)
    assert destination["workload"] == {"namespace": "default", "labels": {"app": "frontend"}}
    assert (destination["status"], destination["body"]) == final
    if code == 0:
        assert destination["upstream"]["remove"] == ["authorization"]  # type: ignore[index]


def test_walk_text_names_the_rule(config: Path) -> None:
    args = ["-c", str(config), "--namespace", "istio-system", "--labels", "istio=ingressgateway"]
    done = subprocess.run([sys.executable, "-m", "meshgate", "check", *args, "--token", DEMO_JWT],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        f"VirtualService default/frontend http[0] match[0] at {config / 'virtual-service.yaml'}:15"
        in done.stdout
    )
    assert "destination hop (workload app=frontend in namespace default):" in done.stdout
