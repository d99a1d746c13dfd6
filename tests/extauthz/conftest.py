"""Shared fixtures for the external-authorizer tests: a background event loop, authz servers on loopback
(one per golden config, started once), an upstream that records what it received, and free ports."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from tests.golden.harness import WORKLOAD

from meshgate.extauthz.service import AuthzServer, AuthzServerOptions

T = TypeVar("T")

try:
    import grpc  # noqa: F401
    from envoy.service.auth.v3 import external_auth_pb2  # noqa: F401

    HAVE_GRPC = True
except ImportError:  # pragma: no cover - the [extauthz] extra is installed in CI
    HAVE_GRPC = False
needs_grpc = pytest.mark.skipif(
    not HAVE_GRPC, reason="grpcio / xds-protos not importable (meshgate[extauthz])"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopThread:
    """An event loop in a daemon thread: servers live there, tests submit coroutines to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="extauthz-test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


def authz_options(config: Path, **overrides: Any) -> AuthzServerOptions:
    """Options for a test authz-server: every port picked by the OS, the golden workload."""
    base: dict[str, Any] = {
        "config_paths": (str(config),),
        "grpc": "127.0.0.1:0",
        "http": "127.0.0.1:0",
        "admin": "127.0.0.1:0",
        "namespace": WORKLOAD.namespace,
        "labels": dict(WORKLOAD.labels),
        "root_namespace": WORKLOAD.root_namespace,
    }
    base.update(overrides)
    return AuthzServerOptions(**base)


def start_authz(lt: LoopThread, config: Path, **overrides: Any) -> AuthzServer:
    server = AuthzServer(authz_options(config, **overrides), log_stream=io.StringIO())
    lt.run(server.start())
    return server


@dataclass
class GoldenServers:
    """One authz-server per distinct golden config text, started on first use."""

    lt: LoopThread
    directory: Path
    servers: dict[str, AuthzServer] = field(default_factory=dict)

    def for_config(self, text: str) -> AuthzServer:
        if text not in self.servers:
            path = self.directory / f"golden-{len(self.servers)}.yaml"
            path.write_text(text)
            self.servers[text] = start_authz(self.lt, path)
        return self.servers[text]


@pytest.fixture(scope="session")
def golden_servers(
    loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GoldenServers]:
    gs = GoldenServers(loop_thread, tmp_path_factory.mktemp("golden-authz"))
    yield gs
    for server in gs.servers.values():
        loop_thread.run(server.stop())


@dataclass
class Upstream:
    """Answers `200 Hello World! <path>` (the gateway's built-in app) and records request headers."""

    port: int = 0
    seen: list[dict[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def hello(request: web.Request) -> web.Response:
            self.seen.append({k.lower(): v for k, v in request.headers.items()})
            return web.Response(text=f"Hello World! {request.raw_path}")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hello)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
def upstream(loop_thread: LoopThread) -> Iterator[Upstream]:
    up = Upstream()
    loop_thread.run(up.start())
    yield up
    loop_thread.run(up.stop())
