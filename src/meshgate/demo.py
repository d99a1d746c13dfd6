"""`meshgate demo`: Istio's seed scenario, self-contained and offline.

The frontend is the gateway's built-in `Hello World!` app; the ingress is `meshgate serve` with the
seed's two resources (issuer `testing@secure.istio.io`, DENY without a request principal). The JWKS
is Istio's sample key, served by this process on loopback, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from aiohttp import web

from meshgate.engine.options import PathNormalization
from meshgate.fronts.serve import ServeOptions, run_serve
from meshgate.tokens import generate_key, sign_token

ISSUER = "testing@secure.istio.io"
WORKLOAD_NAMESPACE = "istio-system"
WORKLOAD_LABELS = {"istio": "ingressgateway"}


def sample(name: str) -> str:
    return resources.files("meshgate").joinpath("data", name).read_text()


def seed_yaml(jwks_uri: str, action: str = "DENY") -> str:
    """The seed's two resources exactly as Istio's docs show them, but for the JWKS location.

    `action` exists for tests that flip the policy (e.g. a reload to ALLOW); the seed is DENY.
    """
    return f"""\
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  jwtRules:
  - issuer: "{ISSUER}"
    jwksUri: "{jwks_uri}"
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: frontend-ingress
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  action: {action}
  rules:
  - from:
    - source:
        notRequestPrincipals: ["*"]
"""


def another_issuers_token() -> str:
    """A well-formed token from an issuer the seed does not trust: Envoy answers `Jwt issuer is not configured`."""
    pem, _ = generate_key("ES256")
    now = int(time.time())
    return sign_token(
        pem, {"iss": "someone-else@example.com", "sub": "mallory", "iat": now, "exp": now + 86400}
    )


def curl_commands(listen: str, valid: str, invalid: str) -> str:
    url = f"http://{listen}/"
    return "\n".join(
        [
            f"export VALID_JWT={shlex.quote(valid)}",
            f"export INVALID_JWT={shlex.quote(invalid)}",
            "",
            '# no token: the DENY policy (notRequestPrincipals: ["*"]) answers',
            f"curl -s -w '\\n' {url}",
            "#   -> RBAC: access denied",
            "",
            "# a token from another issuer: jwt_authn answers",
            f"curl -s -w '\\n' -H \"Authorization: Bearer $INVALID_JWT\" {url}",
            "#   -> Jwt issuer is not configured",
            "",
            "# Istio's demo.jwt: proxied to the frontend",
            f"curl -s -w '\\n' -H \"Authorization: Bearer $VALID_JWT\" {url}",
            "#   -> Hello World! /",
        ]
    )


async def _serve_jwks(document: str) -> tuple[web.AppRunner, str]:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(text=document, content_type="application/json")

    app = web.Application()
    app.router.add_get("/jwks.json", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    port = sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/jwks.json"


async def _demo(listen: str, admin: str, exit_after: float | None) -> int:
    jwks_runner, jwks_uri = await _serve_jwks(sample("jwks.json"))
    with tempfile.TemporaryDirectory(prefix="meshgate-demo-") as tmp:
        config = Path(tmp) / "seed.yaml"
        config.write_text(seed_yaml(jwks_uri))
        options = ServeOptions(
            config_paths=(str(config),),
            listen=listen,
            namespace=WORKLOAD_NAMESPACE,
            labels=dict(WORKLOAD_LABELS),
            admin=admin,
            path_normalization=PathNormalization.BASE,
        )
        print(f"meshgate demo: the seed scenario on http://{listen}/ (JWKS served at {jwks_uri})")
        print("policies in force:\n" + "\n".join("  " + line for line in seed_yaml(jwks_uri).splitlines()))
        print("\nTry it (Ctrl-C to stop):\n")
        print(curl_commands(listen, sample("demo.jwt").strip(), another_issuers_token()), flush=True)
        serving = asyncio.ensure_future(run_serve(options))
        try:
            if exit_after is None:
                return await serving
            with contextlib.suppress(asyncio.TimeoutError):
                return await asyncio.wait_for(asyncio.shield(serving), exit_after)
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            return 0
        finally:
            await jwks_runner.cleanup()


def run_demo(listen: str, admin: str, exit_after: float | None = None) -> int:
    try:
        import uvloop

        return uvloop.run(_demo(listen, admin, exit_after))
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.run(_demo(listen, admin, exit_after))
    except KeyboardInterrupt:
        print("\nmeshgate demo: stopped", file=sys.stderr)
        return 0


__all__ = ["curl_commands", "run_demo", "seed_yaml"]
