"""The Istio seed scenario every gateway bench contender enforces, and the RS256 tokens that drive it.

Owns: the workload identity and policy names, the Istio YAML meshgate loads, and token signing with
`cryptography` directly (the bench must not depend on the code it measures). Fresh-token files are
costly to sign (~0.25 ms each), so they are cached on disk keyed by the key, the claims layout and the
count; every token in a file is distinct and valid until 2118, like Istio's demo.jwt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DATA = Path(__file__).resolve().parents[1] / "src" / "meshgate" / "data"
KEY_PEM = DATA / "key.pem"
JWKS_JSON = DATA / "jwks.json"
DEMO_JWT = DATA / "demo.jwt"

# Istio's sample issuer: istio/istio:security/tools/jwt/samples/demo.jwt (`iss` claim).
ISSUER = "testing@secure.istio.io"
OTHER_ISSUER = "other@bench.meshgate.invalid"
NAMESPACE = "istio-system"
LABELS = {"istio": "ingressgateway"}
RA_NAME = "jwt-example"
POLICY_NAME = "frontend-ingress"
# demo.jwt's exp (2118-06-29): tokens outlive any bench run and any token cache.
FAR_EXP = 4685989700
# Bump when the claims layout below changes: it is part of the cache key.
CLAIMS_LAYOUT = "v1:iss,sub,iat,exp,jti"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def demo_token() -> str:
    """Istio's demo.jwt, trailing newline stripped."""
    return DEMO_JWT.read_text().strip()


def jwks_text() -> str:
    return JWKS_JSON.read_text()


def jwks_kid() -> str:
    kid: str = json.loads(jwks_text())["keys"][0]["kid"]
    return kid


def load_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(KEY_PEM.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{KEY_PEM} is not an RSA key")
    return key


def sign_rs256(key: rsa.RSAPrivateKey, kid: str, claims: dict[str, object]) -> str:
    """Compact JWS, RS256, header as Istio's gen-jwt.py writes it (alg, kid, typ)."""
    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def other_issuer_token() -> str:
    """Validly signed, but by an issuer no rule declares: Envoy answers 401 `Jwt issuer is not configured`."""
    claims: dict[str, object] = {"iss": OTHER_ISSUER, "sub": OTHER_ISSUER, "exp": FAR_EXP}
    return sign_rs256(load_key(), jwks_kid(), claims)


def fresh_claims(index: int) -> dict[str, object]:
    return {
        "iss": ISSUER,
        "sub": f"bench-user-{index}",
        "iat": 1700000000,
        "exp": FAR_EXP,
        "jti": f"b{index}",
    }


def _sign_range(bounds: tuple[int, int]) -> list[str]:
    key, kid = load_key(), jwks_kid()
    return [sign_rs256(key, kid, fresh_claims(i)) for i in range(*bounds)]


def sign_fresh(count: int, processes: int = 2) -> list[str]:
    """`count` distinct valid tokens, signed across `processes` CPUs (before any contender runs)."""
    step = max(1, -(-count // (processes * 8)))
    chunks = [(lo, min(lo + step, count)) for lo in range(0, count, step)]
    with ProcessPoolExecutor(max_workers=processes) as pool:
        return [token for part in pool.map(_sign_range, chunks) for token in part]


def fresh_token_file(count: int, cache_dir: Path) -> Path:
    """Path of a file holding `count` distinct valid tokens, one a line; signed once, then reused."""
    digest = hashlib.sha256(KEY_PEM.read_bytes() + CLAIMS_LAYOUT.encode()).hexdigest()[:12]
    path = cache_dir / f"fresh-{digest}-{count}.txt"
    if path.exists() and path.stat().st_size > 0:
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text("\n".join(sign_fresh(count)) + "\n")
    tmp.replace(path)
    return path


def policies_yaml(jwks: str) -> str:
    """The seed as Istio YAML: RequestAuthentication with the JWKS inline, DENY notRequestPrincipals ["*"]."""
    docs = [
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "RequestAuthentication",
            "metadata": {"name": RA_NAME, "namespace": NAMESPACE},
            "spec": {"selector": {"matchLabels": LABELS}, "jwtRules": [{"issuer": ISSUER, "jwks": jwks}]},
        },
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": POLICY_NAME, "namespace": NAMESPACE},
            "spec": {
                "selector": {"matchLabels": LABELS},
                "action": "DENY",
                "rules": [{"from": [{"source": {"notRequestPrincipals": ["*"]}}]}],
            },
        },
    ]
    return yaml.safe_dump_all(docs, sort_keys=False)
