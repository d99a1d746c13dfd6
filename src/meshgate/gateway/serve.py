"""`meshgate serve`: wire the gateway together, run it on uvloop, fork workers, drain on SIGTERM.

One process: config → Engine, KeyStore, Metrics, AccessLog, ServingState, ConfigReloader, AdminServer
(task E's modules) and the gateway listener. `--workers N` forks N such processes that bind the same
port with SO_REUSEPORT (the kernel spreads connections); worker 0 serves the admin port and prints the
listener lines. SIGTERM/SIGINT: stop accepting, let in-flight requests finish (up to `drain_timeout`),
exit 0. SIGHUP: reload the config. Bad config at start: `file:line: message` lines, exit 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO, cast

from meshgate.config.model import DEFAULT_ROOT_NAMESPACE, ResourceSet, Workload
from meshgate.custom.providers import CustomProviders
from meshgate.engine.options import EngineOptions, PathNormalization
from meshgate.errors import ConfigError, UsageError
from meshgate.gateway.context import GatewayContext
from meshgate.gateway.exchange_log import DeferredFlushStream
from meshgate.gateway.protocol import GatewayProtocol
from meshgate.gateway.upstream import UpstreamPool, UpstreamTarget
from meshgate.server.gc_tuning import tune_for_serving
from meshgate.server.tls import client_context, server_context

if TYPE_CHECKING:
    from meshgate.engine.engine import Engine
    from meshgate.keystore.store import KeyStore
    from meshgate.server.admin.server import AdminServer
    from meshgate.server.config_watch import Seen
    from meshgate.server.reload import Built, ConfigReloader

log = logging.getLogger("meshgate.serve")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
FIRST_JWKS_WAIT_S = 5.0  # how long startup waits for the first JWKS fetches before listening anyway
LISTEN_BACKLOG = 2048


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Every `meshgate serve` flag (see cli.py for their help)."""

    config_paths: tuple[str, ...]
    listen: str = "127.0.0.1:8080"
    upstream: str | None = None  # None: the built-in `Hello World!` app
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    root_namespace: str = DEFAULT_ROOT_NAMESPACE
    admin: str | None = "127.0.0.1:15000"  # None or "": no admin server
    workers: int = 1
    trusted_proxies: int = 0
    path_normalization: PathNormalization = PathNormalization.BASE
    tls_cert: str | None = None
    tls_key: str | None = None
    upstream_timeout: float = 15.0  # Envoy route timeout default
    jwks_min_refresh: float = 30.0
    ca_file: str | None = None
    access_log_format: str = "envoy"  # or "json"; "off" writes no access log (Istio's default)
    drain_timeout: float = 10.0
    mesh_config: str | None = None  # Istio mesh config with `extensionProviders` for CUSTOM policies

    @property
    def engine_options(self) -> EngineOptions:
        return EngineOptions(trusted_proxies=self.trusted_proxies, path_normalization=self.path_normalization)

    @property
    def workload(self) -> Workload:
        return Workload(self.namespace, dict(self.labels), self.root_namespace)


def split_host_port(text: str, flag: str) -> tuple[str, int]:
    """`host:port` / `[v6]:port` / `:port` → (host, port); a usage error otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{flag}: expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def load_config(opts: ServeOptions, options: EngineOptions | None = None) -> Built:
    """Load, validate and compile the config (raises ConfigError with every problem)."""
    from meshgate.server.reload import load_and_build

    return load_and_build(list(opts.config_paths), opts.workload, options or opts.engine_options)


class Gateway:
    """One running `serve` process: start it, read its ports, stop it (draining)."""

    def __init__(
        self,
        opts: ServeOptions,
        *,
        config: tuple[ResourceSet, Engine] | None = None,
        reuse_port: bool = False,
        with_admin: bool = True,
        announce: TextIO | None = None,
        access_log_stream: TextIO | None = None,
    ) -> None:
        self.opts = opts
        self.config = config
        self.reuse_port = reuse_port
        self.with_admin = with_admin and bool(opts.admin)
        self.announce = announce
        self.access_log_stream = access_log_stream
        self.server: asyncio.AbstractServer | None = None
        self.ctx: GatewayContext | None = None
        self.keystore: KeyStore | None = None
        self.reloader: ConfigReloader | None = None
        self.admin: AdminServer | None = None
        self.flusher: asyncio.Task[None] | None = None
        self.port = 0
        self.custom_providers = CustomProviders({})

    async def start(self) -> None:
        """Raises ConfigError / UsageError / OSError (port in use) before anything is served."""
        from meshgate.keystore.store import KeyStore
        from meshgate.server.access_log import AccessLog, AccessLogFormat
        from meshgate.server.admin.server import AdminServer
        from meshgate.server.metrics import Metrics
        from meshgate.server.reload import ConfigReloader
        from meshgate.server.state import ServingState

        opts = self.opts
        host, port = split_host_port(opts.listen, "--listen")
        admin_at = split_host_port(opts.admin, "--admin") if self.with_admin and opts.admin else None
        if bool(opts.tls_cert) != bool(opts.tls_key):
            raise UsageError("--tls-cert and --tls-key go together")
        if opts.access_log_format not in ("envoy", "json", "off"):
            raise UsageError(f"--access-log-format: envoy, json or off, not {opts.access_log_format!r}")
        tls = server_context(opts.tls_cert, opts.tls_key) if opts.tls_cert and opts.tls_key else None
        target = UpstreamTarget.parse(opts.upstream) if opts.upstream else None
        pool = None
        if target is not None:
            pool = UpstreamPool(target, client_context(opts.ca_file) if target.tls else None)
        self.custom_providers = CustomProviders.from_file(opts.mesh_config)
        engine_options = dataclasses.replace(
            opts.engine_options, custom_providers=self.custom_providers.names
        )
        read: tuple[Seen, ...] | None = None  # what the first load read (None: the caller loaded it)
        if self.config is not None:
            resources, engine = self.config
        else:
            built = load_config(opts, engine_options)
            resources, engine, read = built.resources, built.engine, built.read
        self.keystore = KeyStore(
            engine.jwks_sources(), min_refetch_interval_s=opts.jwks_min_refresh, ca_file=opts.ca_file
        )
        log_format: AccessLogFormat = "json" if opts.access_log_format == "json" else "envoy"
        self.log_stream = DeferredFlushStream(self.access_log_stream or sys.stdout)
        state = ServingState(
            engine,
            self.keystore,
            Metrics(),
            AccessLog(cast(TextIO, self.log_stream), log_format),
            config_paths=opts.config_paths,
            workload=opts.workload,
            options=engine_options,
            resources=resources,
        )
        await self.keystore.start()
        self.flusher = asyncio.get_running_loop().create_task(self.log_stream.flush_periodically())
        # What the first load read: an edit made before the reloader exists is still a change.
        self.reloader = ConfigReloader(state, opts.config_paths, loaded=read)
        await self.reloader.start()
        if admin_at is not None:
            self.admin = AdminServer(state, *admin_at)
            await self.admin.start()
        await self.keystore.wait_first_attempts(FIRST_JWKS_WAIT_S)
        self.ctx = ctx = GatewayContext(
            state, pool, scheme="https" if tls else "http", upstream_timeout=opts.upstream_timeout,
            access_log=opts.access_log_format != "off", custom_providers=self.custom_providers,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: GatewayProtocol(ctx),
            host,
            port,
            ssl=tls,
            reuse_port=self.reuse_port or None,
            backlog=LISTEN_BACKLOG,
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        self._announce(host, target, tls is not None)

    def _announce(self, host: str, target: UpstreamTarget | None, tls: bool) -> None:
        if self.announce is None:
            return
        scheme = "https" if tls else "http"
        upstream = self.opts.upstream if target is not None else "built-in app (Hello World!)"
        lines = [f"meshgate serve: listening on {scheme}://{host}:{self.port} -> {upstream}"]
        if self.admin is not None:
            lines.append(f"meshgate serve: admin on http://{self.admin.host}:{self.admin.port}")
        print("\n".join(lines), file=self.announce, flush=True)

    def reload_now(self) -> None:
        if self.reloader is not None:
            self.reloader.reload_now()

    async def stop(self, grace_s: float) -> None:
        """Stop accepting, let in-flight requests finish for up to `grace_s`, then close everything."""
        if self.server is not None:
            self.server.close()
        if self.ctx is not None:
            self.ctx.drain()
            await self.ctx.wait_closed(grace_s)
            self.ctx.abort_all()
        for closer in (self.reloader, self.admin, self.keystore, self.custom_providers):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer.close()
        if self.flusher is not None:
            self.flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.flusher


async def run_serve(opts: ServeOptions, *, worker: int = 0, reuse_port: bool = False) -> int:
    """Serve until SIGTERM/SIGINT (or cancellation); the exit code of `meshgate serve`."""
    gateway = Gateway(
        opts, reuse_port=reuse_port, with_admin=worker == 0, announce=sys.stdout if worker == 0 else None
    )
    try:
        await gateway.start()
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        await gateway.stop(0)
        return EXIT_CONFIG
    except (UsageError, OSError) as exc:
        print(f"meshgate serve: {exc}", file=sys.stderr)
        await gateway.stop(0)
        return EXIT_CONFIG
    tune_for_serving()  # after the configuration is compiled: it is frozen out of the collector's walks
    stop = asyncio.Event()
    installed = _install_signals(stop, gateway)
    if _EARLY_STOP:  # SIGTERM/SIGINT arrived while starting: start cleanly, then drain and exit 0
        stop.set()
    try:
        await stop.wait()
    finally:
        _remove_signals(installed)
        await gateway.stop(opts.drain_timeout)
    return EXIT_OK


def _install_signals(stop: asyncio.Event, gateway: Gateway) -> list[int]:
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    handlers = {signal.SIGTERM: stop.set, signal.SIGINT: stop.set, signal.SIGHUP: gateway.reload_now}
    for sig, handler in handlers.items():
        try:
            loop.add_signal_handler(sig, handler)
        except (RuntimeError, ValueError, NotImplementedError):  # not the main thread (tests, embedding)
            continue
        installed.append(sig)
    return installed


def _remove_signals(installed: list[int]) -> None:
    loop = asyncio.get_running_loop()
    for sig in installed:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(sig)


_EARLY_STOP: list[int] = []  # a stop signal that arrived before the event loop's handlers were installed


def _note_early_stop(signum: int, _frame: object) -> None:
    _EARLY_STOP.append(signum)


def _run_loop(opts: ServeOptions, worker: int = 0, reuse_port: bool = False) -> int:
    import uvloop

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _note_early_stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the config is being loaded fresh anyway

    try:
        return uvloop.run(run_serve(opts, worker=worker, reuse_port=reuse_port))
    except KeyboardInterrupt:
        return EXIT_OK


def serve_main(opts: ServeOptions) -> int:
    """The `meshgate serve` entry point: one process, or `--workers N` forked processes."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    if opts.workers <= 1:
        return _run_loop(opts)
    try:
        load_config(opts)  # fail before forking: every worker would print the same problems
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        return EXIT_CONFIG
    return _fork_workers(opts)


def _fork_workers(opts: ServeOptions) -> int:
    sys.stdout.flush()
    children: list[int] = []
    alive: set[int] = set()

    def forward(signum: int, _frame: object) -> None:
        for child in list(alive):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM if signum == signal.SIGINT else signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # before forking: no window without them
        signal.signal(sig, forward)
    for index in range(opts.workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = EXIT_FAILED
            try:
                code = _run_loop(opts, worker=index, reuse_port=True)
            finally:
                sys.stdout.flush()
                os._exit(code)
        children.append(pid)
        alive.add(pid)
    result = EXIT_OK
    while alive:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        alive.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if code != EXIT_OK and result == EXIT_OK:
            result = code if code > 0 else EXIT_FAILED
            forward(signal.SIGTERM, None)  # one worker failed: take the others down too
    return result
