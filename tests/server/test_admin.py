"""The admin server over real sockets: readiness like Envoy's `/ready` (200 `LIVE` / 503; body checked
against Envoy 1.40), Prometheus stats, and the config dump (resources with file:line, compiled view, JWKS)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from tests.support.jwks_server import ISTIO_KID, JwksServer

from meshgate.config.model import Workload
from meshgate.engine.options import EngineOptions
from meshgate.keystore.store import KeyStore
from meshgate.server.access_log import AccessLog
from meshgate.server.admin.server import AdminServer
from meshgate.server.metrics import Metrics
from meshgate.server.reload import load_and_build
from meshgate.server.state import ServingState

CONFIG = """apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: default}}
spec:
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: {uri}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: require-jwt, namespace: default}}
spec:
  rules:
  - from:
    - source:
        requestPrincipals: ["*"]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
"""


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_admin_endpoints(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = JwksServer()
        config = tmp_path / "mesh.yaml"
        config.write_text(CONFIG.format(uri=server.url()))
        built = load_and_build([str(config)], Workload(), EngineOptions())
        resources, engine = built.resources, built.engine
        # no retry of its own within the test: the one failure and the explicit refetch are what is counted
        keystore = KeyStore(engine.jwks_sources(), backoff_base_s=30, backoff_max_s=60)
        state = ServingState(
            engine,
            keystore,
            Metrics(),
            AccessLog(io.StringIO()),
            config_paths=[str(config)],
            resources=resources,
        )
        admin = AdminServer(state, "127.0.0.1", 0)
        await admin.start()
        port = admin.port
        assert port != 0

        # Not ready: the JWKS source has had no attempt yet.
        for path in ("/healthz/ready", "/ready"):
            assert (await get(port, path))[::2] == (503, "INITIALIZING\n")
        await keystore.start()
        await keystore.wait_first_attempts(5)  # server down: a failed first attempt still counts
        status, ctype, body = await get(port, "/healthz/ready")
        assert (status, body) == (200, "LIVE\n") and ctype.startswith("text/plain")

        status, ctype, body = await get(port, "/stats/prometheus")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        assert f'meshgate_jwks_fetch_total{{result="failure",uri="{server.url()}"}} 1.0' in body
        assert "# TYPE envoy_http_jwt_authn_allowed counter" in body

        await server.start()
        assert await keystore.refetch(server.url())
        dump = await config_dump(port)
        await admin.close()
        await keystore.close()
        await server.stop()
        check_dump(dump, str(config), server.url())

    run(scenario)


async def config_dump(port: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/config_dump") as r:
        assert r.status == 200 and r.content_type == "application/json"
        data: dict[str, Any] = await r.json()
        return data


KIND = {"kind": "RequestAuthentication"}


def check_dump(dump: dict[str, Any], config: str, uri: str) -> None:
    assert dump["ready"] is True and dump["config"]["paths"] == [config]
    assert dump["workload"] == {"namespace": "default", "labels": {}, "root_namespace": "istio-system"}
    [ra] = dump["resources"]["request_authentications"]
    [ap] = dump["resources"]["authorization_policies"]
    assert ra == {
        "kind": "RequestAuthentication",
        "namespace": "default",
        "name": "jwt",
        "source": f"{config}:1",
    }
    assert ap["name"] == "require-jwt" and ap["source"] == f"{config}:9"
    assert any("Deployment" in s for s in dump["resources"]["skipped"])
    [provider] = dump["workload_view"]["providers"]
    assert provider["issuer"] == "testing@secure.istio.io" and provider["jwks_uri"] == uri
    assert provider["resource"] == "default/jwt" and provider["source"] == f"{config}:1"
    [policy] = dump["workload_view"]["policies"]
    assert policy["resource"] == "default/require-jwt" and policy["action"] == "ALLOW"
    assert policy["rules"][0]["from_"][0]["request_principals"] == ["*"]
    [jwks] = dump["jwks"]
    assert jwks["uri"] == uri and jwks["kids"] == [ISTIO_KID] and jwks["age_s"] is not None
    assert jwks["last_error"] and jwks["fetches"] == {"success": 1, "failure": 1, "refetch": 1}
