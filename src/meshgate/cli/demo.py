"""`meshgate demo`: Istio's seed scenario as an ingress serves it, self-contained and offline.

The seed is examples/seed verbatim (packaged as data/seed-*.yaml; a test keeps them identical): a
RequestAuthentication trusting `testing@secure.istio.io` and an ALLOW policy requiring its request
principal, both for `app: frontend` in namespace `default`. The routing is examples/ingress (data/ingress-*.yaml):
a Gateway selecting `istio: ingressgateway`, a VirtualService sending everything to the `frontend` service,
a ServiceEntry whose endpoint (labelled `app: frontend`) is where this process starts the built-in
`Hello World!` frontend. meshgate serves as the ingress (`--namespace istio-system --labels
istio=ingressgateway`): the seed's policies run at the frontend's hop, on the request as the gateway
forwards it. Only the jwksUri changes (this process serves Istio's sample jwks.json on loopback), and the
ports when `--listen`/`--frontend` move them — the demo says so.
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
INGRESS_FILES = ("ingress-gateway.yaml", "ingress-virtual-service.yaml", "ingress-service-entry.yaml")
GATEWAY_NAMESPACE = "istio-system"
GATEWAY_LABELS = {"istio": "ingressgateway"}
EXAMPLE_GATEWAY_PORT = "number: 8080"  # examples/ingress/gateway.yaml
EXAMPLE_FRONTEND_PORT = "http: 18080"  # examples/ingress/service-entry.yaml
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


def ingress_yaml(gateway_port: int, frontend_port: int) -> str:
    """examples/ingress's routing with the gateway's and the frontend endpoint's ports set."""
    text = "---\n".join(sample(name) for name in INGRESS_FILES)
    if text.count(EXAMPLE_GATEWAY_PORT) != 1 or text.count(EXAMPLE_FRONTEND_PORT) != 1:  # pragma: no cover
        raise RuntimeError("the packaged examples/ingress no longer names its two ports exactly once")
    text = text.replace(EXAMPLE_GATEWAY_PORT, f"number: {gateway_port}")
    return text.replace(EXAMPLE_FRONTEND_PORT, f"http: {frontend_port}")


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


async def _serve_frontend(port: int) -> web.AppRunner:
    """The built-in frontend where the ServiceEntry's endpoint says: `Hello World! <path>`."""
    from aiohttp import web

    from meshgate.gateway.builtin_app import hello_body

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=hello_body(request.raw_path), content_type="text/plain")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _demo(listen: str, admin: str, exit_after: float | None, frontend: int = 18080) -> int:
    from meshgate.gateway.serve import ServeOptions, run_serve
    from meshgate.server.options import parse_address

    host, port = parse_address(listen, "--listen")
    jwks_runner, jwks_uri = await _serve_jwks(sample("jwks.json"))
    frontend_runner = await _serve_frontend(frontend)
    with tempfile.TemporaryDirectory(prefix="meshgate-demo-") as tmp:
        (Path(tmp) / "seed.yaml").write_text(seed_yaml(jwks_uri))
        (Path(tmp) / "ingress.yaml").write_text(ingress_yaml(port, frontend))
        namespace = WORKLOAD_NAMESPACE
        options = ServeOptions(
            config_paths=(tmp,),
            bind=host,
            namespace=GATEWAY_NAMESPACE,
            labels=dict(GATEWAY_LABELS),
            admin=admin,
            path_normalization=PathNormalization.BASE,
        )
        labels = ",".join(f"{k}={v}" for k, v in WORKLOAD_LABELS.items())
        print(
            f"meshgate demo: Istio's seed behind meshgate as the ingress on http://{listen}/, routed to the "
            f"built-in frontend on 127.0.0.1:{frontend}: the workload {labels} in namespace {namespace}"
        )
        print(
            f"jwksUri rewritten: {SEED_JWKS_URI}\n  -> {jwks_uri} (the same jwks.json, served by this process)"
        )
        print("policies in force (examples/seed but for that jwksUri):")
        print("\n".join("  " + line for line in seed_yaml(jwks_uri).splitlines()))
        gw_labels = ",".join(f"{k}={v}" for k, v in GATEWAY_LABELS.items())
        print(
            f"\nrouting (examples/ingress, gateway port {port}, frontend endpoint port {frontend}); meshgate is "
            f"the gateway workload {gw_labels} in namespace {GATEWAY_NAMESPACE}:"
        )
        print("\n".join("  " + line for line in ingress_yaml(port, frontend).splitlines()))
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
            await frontend_runner.cleanup()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", default="127.0.0.1:8080")
    p.add_argument("--admin", default="127.0.0.1:15000")
    p.add_argument("--frontend", type=int, default=18080, metavar="PORT", help="the built-in frontend's port")
    p.add_argument("--exit-after", type=float, default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return run_demo(args.listen, args.admin, args.exit_after, args.frontend)


def run_demo(listen: str, admin: str, exit_after: float | None = None, frontend: int = 18080) -> int:
    try:
        import uvloop

        return uvloop.run(_demo(listen, admin, exit_after, frontend))
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.run(_demo(listen, admin, exit_after, frontend))
    except KeyboardInterrupt:
        print("\nmeshgate demo: stopped", file=sys.stderr)
        return EXIT_OK
