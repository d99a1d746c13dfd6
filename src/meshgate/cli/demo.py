"""`meshgate demo`: Istio's seed scenario, self-contained and offline.

The seed is examples/seed verbatim (packaged as data/seed-*.yaml; a test keeps them identical): a
RequestAuthentication trusting `testing@secure.istio.io` and an ALLOW policy requiring its request
principal, both for `app: frontend` in namespace `default`. The frontend is the gateway's built-in
`Hello World!` app behind `meshgate serve` for that workload. Only the jwksUri changes: this process serves
the document it names (Istio's sample jwks.json) on loopback, so nothing leaves the machine — and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from meshgate.engine.options import PathNormalization
from meshgate.errors import EXIT_OK
from meshgate.jose.mint import generate_key, sign_token

if TYPE_CHECKING:
    from aiohttp import web

HELP = "the Istio seed scenario, self-contained and offline"
WORKLOAD_NAMESPACE = "default"
WORKLOAD_LABELS = {"app": "frontend"}
SEED_FILES = ("seed-request-authentication.yaml", "seed-authorization-policy.yaml")
SEED_JWKS_URI = (
    "https://raw.githubusercontent.com/istio/istio/release-1.5/security/tools/jwt/samples/jwks.json"
)


def sample(name: str) -> str:
    return resources.files("meshgate").joinpath("data", name).read_text()


def seed_text() -> str:
    """The seed's two resources, exactly as examples/seed holds them."""
    return "---\n".join(sample(name) for name in SEED_FILES)


def seed_yaml(jwks_uri: str) -> str:
    """The seed with its one jwksUri pointed at `jwks_uri`; everything else byte for byte."""
    text = seed_text()
    if text.count(SEED_JWKS_URI) != 1:  # pragma: no cover - guarded by tests/cli/test_demo.py
        raise RuntimeError("the packaged seed no longer names Istio's sample jwksUri exactly once")
    return text.replace(SEED_JWKS_URI, jwks_uri)


def another_issuers_token() -> str:
    """A well-formed token from an issuer the seed does not trust: Envoy answers `Jwt issuer is not configured`."""
    pem, _ = generate_key("ES256")
    now = int(time.time())
    return sign_token(
        pem, {"iss": "someone-else@example.com", "sub": "mallory", "iat": now, "exp": now + 86400}
    )


# The three requests of the seed and what Envoy 1.40 (jwt_authn + RBAC as istiod configures them) answers.
CURL_STATUS = "' (HTTP %{http_code})\\n'"  # curl -w: the body, then the status
EXPECTED = (
    ("no token: no request principal, so the ALLOW rule (requestPrincipals) does not match", "",
     "RBAC: access denied (HTTP 403)"),
    ("a token from another issuer: jwt_authn answers", "$INVALID_JWT", "Jwt issuer is not configured (HTTP 401)"),
    ("Istio's demo.jwt: the request principal matches, proxied to the frontend", "$VALID_JWT",
     "Hello World! / (HTTP 200)"),
)  # fmt: skip


def curl_commands(listen: str, valid: str, invalid: str) -> str:
    url = f"http://{listen}/"
    lines = [f"export VALID_JWT={shlex.quote(valid)}", f"export INVALID_JWT={shlex.quote(invalid)}"]
    for comment, token, answer in EXPECTED:
        header = f' -H "Authorization: Bearer {token}"' if token else ""
        lines += ["", f"# {comment}", f"curl -s -w {CURL_STATUS}{header} {url}", f"#   -> {answer}"]
    return "\n".join(lines)


async def _serve_jwks(document: str) -> tuple[web.AppRunner, str]:
    from aiohttp import web  # the serving stack loads only when the demo runs

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
    from meshgate.gateway.serve import ServeOptions, run_serve

    jwks_runner, jwks_uri = await _serve_jwks(sample("jwks.json"))
    with tempfile.TemporaryDirectory(prefix="meshgate-demo-") as tmp:
        config = Path(tmp) / "seed.yaml"
        config.write_text(seed_yaml(jwks_uri))
        namespace = WORKLOAD_NAMESPACE
        options = ServeOptions(
            config_paths=(str(config),),
            listen=listen,
            namespace=namespace,
            labels=dict(WORKLOAD_LABELS),
            admin=admin,
            path_normalization=PathNormalization.BASE,
        )
        labels = ",".join(f"{k}={v}" for k, v in WORKLOAD_LABELS.items())
        print(
            f"meshgate demo: Istio's seed on http://{listen}/, the workload {labels} in namespace {namespace}"
        )
        print(
            f"jwksUri rewritten: {SEED_JWKS_URI}\n  -> {jwks_uri} (the same jwks.json, served by this process)"
        )
        print("policies in force (examples/seed but for that jwksUri):")
        print("\n".join("  " + line for line in seed_yaml(jwks_uri).splitlines()))
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
            return EXIT_OK
        finally:
            await jwks_runner.cleanup()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", default="127.0.0.1:8080")
    p.add_argument("--admin", default="127.0.0.1:15000")
    p.add_argument("--exit-after", type=float, default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return run_demo(args.listen, args.admin, args.exit_after)


def run_demo(listen: str, admin: str, exit_after: float | None = None) -> int:
    try:
        import uvloop

        return uvloop.run(_demo(listen, admin, exit_after))
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.run(_demo(listen, admin, exit_after))
    except KeyboardInterrupt:
        print("\nmeshgate demo: stopped", file=sys.stderr)
        return EXIT_OK
