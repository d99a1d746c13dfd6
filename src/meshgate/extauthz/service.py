"""`meshgate authz-server`: meshgate as an external authorizer (Envoy ext_authz gRPC + HTTP, nginx).

Built like `serve`: one `ServingState` (engine, JWKS key store, metrics, access log), the config
reloader (file polling + SIGHUP) and the admin server (`/healthz/ready`, `/stats/prometheus`,
`/config_dump`); only the fronts differ — the gRPC `Authorization/Check` service and the HTTP
authorization port, both deciding through `ExtAuthzDecider`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from meshgate.config.model import DEFAULT_ROOT_NAMESPACE, Workload
from meshgate.custom.providers import CustomProviders
from meshgate.engine.options import EngineOptions, PathNormalization
from meshgate.errors import ConfigError, UsageError
from meshgate.extauthz.decide import ExtAuthzDecider
from meshgate.extauthz.http_request import HttpMode
from meshgate.server.gc_tuning import tune_for_serving

EXIT_OK = 0
EXIT_CONFIG = 2
DEFAULT_GRPC = "127.0.0.1:9191"
DEFAULT_HTTP = "127.0.0.1:9192"
DEFAULT_ADMIN = "127.0.0.1:15000"
GRPC_MISSING = (
    "the gRPC front needs grpcio and xds-protos: pip install 'meshgate[extauthz]' (or pass --grpc '' to run "
    "only the HTTP front)"
)
DRAIN_GRACE_S = 5.0


@dataclass(frozen=True)
class AuthzServerOptions:
    """Every `authz-server` flag. An empty `grpc` / `http` address disables that front."""

    config_paths: tuple[str, ...]
    grpc: str = DEFAULT_GRPC
    http: str = DEFAULT_HTTP
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    root_namespace: str = DEFAULT_ROOT_NAMESPACE
    admin: str = DEFAULT_ADMIN
    trusted_proxies: int = 0
    path_normalization: PathNormalization = PathNormalization.BASE
    mesh_config: str | None = None  # Istio extensionProviders, for CUSTOM policies
    http_path_prefix: str = ""  # Istio envoyExtAuthzHttp `pathPrefix` to strip in Envoy HTTP mode
    # which headers describe the original request on the HTTP port (extauthz_http_request.py): "envoy" reads
    # none (the request line is the original), "nginx" X-Original-*, "forward-auth" Traefik's X-Forwarded-*;
    # "auto" takes either when present (the proxy must then overwrite every one of them)
    http_mode: HttpMode = "auto"
    jwks_min_refresh: float = 30.0
    ca_file: str | None = None
    access_log_format: Literal["envoy", "json"] = "envoy"


def split_address(text: str, flag: str) -> tuple[str, int]:
    """`HOST:PORT` / `[v6]:PORT` → (host, port); raises UsageError naming the flag."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{flag}: expected HOST:PORT, got {text!r}")
    return host, int(port)


class AuthzServer:
    """The running authorizer: start() binds every port (0 = any free port), stop() drains."""

    def __init__(self, opts: AuthzServerOptions, log_stream: TextIO | None = None) -> None:
        self.opts = opts
        self.log_stream = log_stream or sys.stdout
        self.grpc_port: int | None = None
        self.http_port: int | None = None
        self.admin_port: int | None = None
        self._closers: list[Any] = []
        self.state: Any = None
        self.reloader: Any = None

    async def start(self) -> None:
        """Load the config (ConfigError on a bad one), then start every part; returns once listening."""
        from meshgate.keystore.store import KeyStore
        from meshgate.server.access_log import AccessLog
        from meshgate.server.admin.server import AdminServer
        from meshgate.server.metrics import Metrics
        from meshgate.server.reload import ConfigReloader, load_and_build
        from meshgate.server.state import ServingState

        opts = self.opts
        addresses = {
            flag: split_address(a, flag)
            for flag, a in (("--grpc", opts.grpc), ("--http", opts.http), ("--admin", opts.admin))
            if a
        }
        providers = CustomProviders.from_file(opts.mesh_config)
        options = EngineOptions(
            trusted_proxies=opts.trusted_proxies,
            path_normalization=opts.path_normalization,
            custom_providers=providers.names,
        )
        workload = Workload(opts.namespace, dict(opts.labels), opts.root_namespace)
        built = await asyncio.to_thread(load_and_build, opts.config_paths, workload, options)
        resources, engine = built.resources, built.engine
        keystore = KeyStore(
            engine.jwks_sources(), min_refetch_interval_s=opts.jwks_min_refresh, ca_file=opts.ca_file
        )
        self.state = state = ServingState(
            engine,
            keystore,
            Metrics(),
            AccessLog(self.log_stream, opts.access_log_format),
            config_paths=opts.config_paths,
            workload=workload,
            options=options,
            resources=resources,
        )
        self._closers.append(providers.close)
        await keystore.start()
        self._closers.append(keystore.close)
        self.reloader = ConfigReloader(state, loaded=built.read)  # an edit since the load is a change
        await self.reloader.start()
        self._closers.append(self.reloader.close)
        decider = ExtAuthzDecider(state, providers)
        if "--grpc" in addresses:
            await self._start_grpc(decider, *addresses["--grpc"])
        if "--http" in addresses:
            from meshgate.extauthz.http_server import start_http_server

            http, self.http_port = await start_http_server(
                decider, *addresses["--http"], opts.http_path_prefix, opts.http_mode
            )
            self._closers.append(_closer(http))
        if "--admin" in addresses:
            admin = AdminServer(state, *addresses["--admin"])
            await admin.start()
            self.admin_port = admin.port
            self._closers.append(admin.close)

    async def _start_grpc(self, decider: ExtAuthzDecider, host: str, port: int) -> None:
        try:
            from meshgate.extauthz.grpc_server import start_grpc_server
        except ImportError as exc:
            raise UsageError(f"{GRPC_MISSING} ({exc})") from None
        server, self.grpc_port = await start_grpc_server(decider, host, port)

        async def stop() -> None:
            await server.stop(DRAIN_GRACE_S)

        self._closers.append(stop)

    async def stop(self) -> None:
        """Stop accepting, let in-flight checks finish, then close everything in reverse order."""
        while self._closers:
            with contextlib.suppress(Exception):
                await self._closers.pop()()


def _closer(server: asyncio.Server) -> Any:
    async def close() -> None:
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), DRAIN_GRACE_S)

    return close


async def run_authz_server(opts: AuthzServerOptions) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit code (2: bad config or usage)."""
    server = AuthzServer(opts)
    try:
        await server.start()
    except ConfigError as exc:
        await server.stop()
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except (UsageError, OSError) as exc:
        await server.stop()
        print(f"meshgate authz-server: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    tune_for_serving()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, server.reloader.reload_now)
    fronts = [
        f"gRPC {opts.grpc}" if server.grpc_port else "",
        f"HTTP {opts.http}" if server.http_port else "",
    ]
    print(f"meshgate authz-server: {', '.join(filter(None, fronts))}; admin {opts.admin}", file=sys.stderr)
    await stopping.wait()
    await server.stop()
    return EXIT_OK


def authz_server_main(opts: AuthzServerOptions) -> int:
    """Entry point for the CLI: uvloop when available (grpc.aio runs on it), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run_authz_server(opts))
    return uvloop.run(run_authz_server(opts))
