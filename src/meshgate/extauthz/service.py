"""`meshgate authz-server`: meshgate as an external authorizer (Envoy ext_authz gRPC + HTTP, nginx).

Built on the same serving runtime as `serve` (server/runtime.py: configuration, key store, state, reloader,
admin); only the fronts differ — the gRPC `Authorization/Check` service and the HTTP authorization port,
both deciding through `ExtAuthzDecider`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from meshgate.errors import UsageError
from meshgate.extauthz.decide import ExtAuthzDecider
from meshgate.extauthz.http_request import HttpMode
from meshgate.server.options import WorkloadOptions, parse_address
from meshgate.server.reload import ConfigReloader
from meshgate.server.runtime import Runtime, run, run_loop
from meshgate.server.state import ServingState

DEFAULT_GRPC = "127.0.0.1:9191"
DEFAULT_HTTP = "127.0.0.1:9192"
GRPC_MISSING = (
    "the gRPC front needs grpcio and xds-protos: pip install 'meshgate[extauthz]' (or pass --grpc '' to run "
    "only the HTTP front)"
)
DRAIN_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class AuthzServerOptions(WorkloadOptions):
    """Every `authz-server` flag (cli/authz_server.py). An empty `grpc` / `http` address disables that front."""

    grpc: str = DEFAULT_GRPC
    http: str = DEFAULT_HTTP
    http_path_prefix: str = ""  # Istio envoyExtAuthzHttp `pathPrefix` to strip in Envoy HTTP mode
    # which headers describe the original request on the HTTP port (extauthz/http_request.py): "envoy" reads
    # none (the request line is the original), "nginx" X-Original-*, "forward-auth" Traefik's X-Forwarded-*;
    # "auto" takes either when present (the proxy must then overwrite every one of them)
    http_mode: HttpMode = "auto"


class AuthzServer:
    """The running authorizer: start() binds every port (0 = any free port), stop() drains."""

    def __init__(
        self, opts: AuthzServerOptions, log_stream: TextIO | None = None, announce: TextIO | None = None
    ) -> None:
        self.opts = opts
        self.announce = announce
        self.runtime = Runtime(opts, log_stream or sys.stdout)
        self.grpc_port: int | None = None
        self.http_port: int | None = None
        self._closers: list[Callable[[float], Awaitable[None]]] = []

    @property
    def state(self) -> ServingState:
        assert self.runtime.state is not None, "the server is not started"
        return self.runtime.state

    @property
    def reloader(self) -> ConfigReloader:
        assert self.runtime.reloader is not None, "the server is not started"
        return self.runtime.reloader

    @property
    def admin_port(self) -> int | None:
        return self.runtime.admin.port if self.runtime.admin is not None else None

    async def start(self) -> None:
        """Load the config (ConfigError on a bad one), then start every part; returns once listening."""
        opts = self.opts
        grpc_at = parse_address(opts.grpc, "--grpc") if opts.grpc else None
        http_at = parse_address(opts.http, "--http") if opts.http else None
        state = await self.runtime.start()
        decider = ExtAuthzDecider(state, self.runtime.providers)
        if grpc_at is not None:
            await self._start_grpc(decider, *grpc_at)
        if http_at is not None:
            from meshgate.extauthz.http_server import start_http_server

            http, self.http_port = await start_http_server(
                decider, *http_at, opts.http_path_prefix, opts.http_mode
            )
            self._closers.append(_closer(http))
        if self.announce is not None:
            fronts = [
                f"gRPC {opts.grpc}" if self.grpc_port else "",
                f"HTTP {opts.http}" if self.http_port else "",
            ]
            print(
                f"meshgate authz-server: {', '.join(filter(None, fronts))}; admin {opts.admin}",
                file=self.announce,
            )

    async def _start_grpc(self, decider: ExtAuthzDecider, host: str, port: int) -> None:
        try:
            from meshgate.extauthz.grpc_server import start_grpc_server
        except ImportError as exc:
            raise UsageError(f"{GRPC_MISSING} ({exc})") from None
        server, self.grpc_port = await start_grpc_server(decider, host, port)

        async def stop(grace_s: float) -> None:
            await server.stop(grace_s)

        self._closers.append(stop)

    def reload_now(self) -> None:
        self.runtime.reload_now()

    async def stop(self, grace_s: float = DRAIN_GRACE_S) -> None:
        """Stop accepting, let in-flight checks finish, then close everything in reverse order."""
        while self._closers:
            with contextlib.suppress(Exception):
                await self._closers.pop()(grace_s)
        await self.runtime.close()


def _closer(server: asyncio.Server) -> Callable[[float], Awaitable[None]]:
    async def close(grace_s: float) -> None:
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), grace_s)

    return close


async def run_authz_server(opts: AuthzServerOptions) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit code (2: bad config or usage)."""
    return await run(AuthzServer(opts, announce=sys.stderr), "authz-server", DRAIN_GRACE_S)


def authz_server_main(opts: AuthzServerOptions) -> int:
    """Entry point for the CLI: uvloop when available (grpc.aio runs on it), else asyncio's loop."""
    return run_loop(lambda: run_authz_server(opts))
