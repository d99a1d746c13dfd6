"""`meshgate keygen` + `meshgate token` (Istio's gen-jwt.py, built in), verified by `meshgate check`
through a `file://` jwksUri (meshgate's extension) — every algorithm the CLI offers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from meshgate.jose.jws import ParsedJwt, parse_jwt
from meshgate.jose.mint import jwk_thumbprint


def meshgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshgate", *args], capture_output=True, text=True, timeout=60
    )


def policy(jwks_path: Path, issuer: str) -> str:
    return f"""\
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: default}}
spec:
  jwtRules:
  - issuer: {issuer}
    audiences: [api.example.com]
    jwksUri: {jwks_path.as_uri()}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: need-group, namespace: default}}
spec:
  rules:
  - from:
    - source: {{requestPrincipals: ["{issuer}/alice"]}}
    when:
    - key: request.auth.claims[role]
      values: [admin]
"""


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "ES384", "EdDSA"])
def test_keygen_token_check_round_trip(tmp_path: Path, alg: str) -> None:
    key, jwks = tmp_path / "key.pem", tmp_path / "jwks.json"
    made = meshgate("keygen", "--alg", alg, "--out", str(key), "--jwks", str(jwks))
    assert made.returncode == 0, made.stderr
    published = json.loads(jwks.read_text())["keys"][0]
    assert published["kid"] == jwk_thumbprint(published)  # RFC 7638
    assert "d" not in published  # public only
    (tmp_path / "policy.yaml").write_text(policy(jwks, "https://issuer.example.com"))

    token = meshgate(
        "token", "--key", str(key), "--iss", "https://issuer.example.com", "--sub", "alice",
        "--aud", "api.example.com", "--claim", "role=admin", "--expires-in", "600",
        *(["--alg", alg] if alg == "PS256" else []),  # an RSA PEM says nothing of PSS: RS256 is the default
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    parsed = parse_jwt(token.stdout.strip())
    assert isinstance(parsed, ParsedJwt)
    assert parsed.alg == alg and parsed.kid == published["kid"]

    allowed = meshgate(
        "check", "-c", str(tmp_path / "policy.yaml"), "--token", token.stdout.strip(), "--json"
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert json.loads(allowed.stdout)["trace"]["authn"]["principal"] == "https://issuer.example.com/alice"

    wrong_role = meshgate(
        "token", "--key", str(key), "--iss", "https://issuer.example.com", "--sub", "alice",
        "--aud", "api.example.com", "--claims-json", '{"role": "viewer"}', "--alg", alg,
    )  # fmt: skip
    denied = meshgate("check", "-c", str(tmp_path / "policy.yaml"), "--token", wrong_role.stdout.strip())
    assert denied.returncode == 1 and "RBAC: access denied" in denied.stdout


def test_token_defaults_follow_gen_jwt(tmp_path: Path) -> None:
    """gen-jwt.py: sub defaults to iss, one aud is a string, several a list; exp = iat + expires-in."""
    key = tmp_path / "key.pem"
    assert meshgate("keygen", "--out", str(key)).returncode == 0
    one = parse_jwt(meshgate("token", "--key", str(key), "--aud", "a").stdout.strip())
    two = parse_jwt(meshgate("token", "--key", str(key), "--aud", "a", "--aud", "b").stdout.strip())
    assert isinstance(one, ParsedJwt) and isinstance(two, ParsedJwt)
    assert one.payload["sub"] == one.payload["iss"] == "testing@secure.istio.io"
    assert one.payload["aud"] == "a" and two.payload["aud"] == ["a", "b"]
    assert one.payload["exp"] - one.payload["iat"] == 3600


@pytest.mark.parametrize(
    "args",
    [["--claim", "novalue"], ["--claims-json", "[1]"], ["--claims-json", "{bad"]],
    ids=["claim without =", "claims-json not an object", "claims-json not JSON"],
)
def test_token_bad_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    key = tmp_path / "key.pem"
    assert meshgate("keygen", "--out", str(key)).returncode == 0
    out = meshgate("token", "--key", str(key), *args)
    assert out.returncode == 2 and "Traceback" not in out.stderr
