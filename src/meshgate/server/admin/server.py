"""The admin port (aiohttp, off the hot path): readiness, Prometheus stats, a config dump, and the admin
page at `/` (server/admin/page.py). Inline key sets are summarized (kids), never dumped.

`/healthz/ready` (Istio's readiness path) and `/ready` answer like Envoy's admin `/ready`: 200 `LIVE`
once the config is loaded and every JWKS source had its first fetch attempt, else 503 `INITIALIZING`
(envoyproxy/envoy:source/server/admin/server_info_handler.cc; body checked against Envoy 1.40).
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from meshgate.config.model import ResourceSet
from meshgate.server.admin.page import add_page_routes
from meshgate.server.admin.routes_view import routes_view
from meshgate.server.admin.views import jsonable as _jsonable
from meshgate.server.admin.views import without_inline_keys
from meshgate.server.metrics import PROMETHEUS_CONTENT_TYPE
from meshgate.server.state import ServingState

READY_BODY = "LIVE\n"
NOT_READY_BODY = "INITIALIZING\n"
READY_PATHS = ("/healthz/ready", "/ready")


def _where(resource: Any) -> str:
    return f"{resource.source.file}:{resource.source.line}"


def _resource_summary(resource: Any, kind: str) -> dict[str, Any]:
    return {"kind": kind, "namespace": resource.namespace, "name": resource.name, "source": _where(resource)}


def _resources(resources: ResourceSet) -> dict[str, Any]:
    return {
        "request_authentications": [
            _resource_summary(r, "RequestAuthentication") for r in resources.request_authentications
        ],
        "authorization_policies": [
            _resource_summary(p, "AuthorizationPolicy") for p in resources.authorization_policies
        ],
        "skipped": list(resources.skipped),
    }


def config_dump(state: ServingState) -> dict[str, Any]:
    """Resources in force (file:line), the compiled view for this workload, and the JWKS state."""
    engine = state.engine
    authns = engine.request_authentications
    policies = engine.authorization_policies
    providers = [
        {
            "resource": f"{ra.namespace}/{ra.name}",
            "source": _where(ra),
            "rule": i,
            **_jsonable(without_inline_keys(rule)),
        }
        for ra in authns
        for i, rule in enumerate(ra.jwt_rules)
    ]
    compiled = [{"resource": f"{p.namespace}/{p.name}", **_jsonable(p)} for p in policies]
    in_force = _resources(state.resources if state.resources is not None else ResourceSet(authns, policies))
    return {
        "ready": state.ready,
        "config": {
            "paths": list(state.config_paths),
            "loaded_at": _iso(state.loaded_at),
            "last_reload": state.last_reload,
        },
        "workload": _jsonable(state.workload),
        "resources": in_force,
        "workload_view": {"providers": providers, "policies": compiled},
        "jwks": state.keystore.state(),
        "routing": routes_view(state.ingress),  # null unless Gateways select the workload (the ingress)
    }


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


class AdminServer:
    """Serves the admin endpoints for one ServingState on host:port (port 0 picks a free one)."""

    def __init__(self, state: ServingState, host: str = "127.0.0.1", port: int = 15000) -> None:
        self.state = state
        self.host = host
        self.requested_port = port
        self.app = web.Application()
        for path in READY_PATHS:
            self.app.router.add_get(path, self._ready)
        self.app.router.add_get("/stats/prometheus", self._prometheus)
        self.app.router.add_get("/config_dump", self._config_dump)
        add_page_routes(self.app, state)  # `/`: the admin page (server/admin/page.py)
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (after `start()`)."""
        if self._runner is not None:
            for address in self._runner.addresses:
                return int(address[1])
        return self.requested_port

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.requested_port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _ready(self, request: web.Request) -> web.Response:
        if self.state.ready:
            return web.Response(text=READY_BODY, content_type="text/plain")
        return web.Response(status=503, text=NOT_READY_BODY, content_type="text/plain")

    async def _prometheus(self, request: web.Request) -> web.Response:
        body = self.state.metrics.render()
        return web.Response(body=body, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})

    async def _config_dump(self, request: web.Request) -> web.Response:
        text = json.dumps(config_dump(self.state), indent=2, default=str)
        return web.Response(text=text + "\n", content_type="application/json")
