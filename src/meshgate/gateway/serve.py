"""`meshgate serve`: the gateway process — a Runtime, the listener, and `--workers N` forked processes.

One process: the serving runtime (server/runtime.py: configuration, key store, state, reloader, admin) and
the gateway listener. `--workers N` forks N such processes that bind the same port with SO_REUSEPORT (the
kernel spreads connections); worker 0 serves the admin port and prints the listener lines. SIGTERM/SIGINT:
stop accepting, let in-flight requests finish (up to `drain_timeout`), exit 0. SIGHUP: reload the config.
Bad config at start: `file:line: message` lines, exit 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import TextIO, cast

from meshgate.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError, UsageError
from meshgate.gateway.context import GatewayContext
from meshgate.gateway.exchange_log import DeferredFlushStream
from meshgate.gateway.h2.auto import AutoProtocol
from meshgate.gateway.h2.upstream import H2Pool
from meshgate.gateway.http1.upstream import UpstreamPool, UpstreamTarget
from meshgate.gateway.ingress.listeners import IngressListeners
from meshgate.gateway.seam import Pool
from meshgate.server.admin.server import AdminServer
from meshgate.server.options import WorkloadOptions, parse_address
from meshgate.server.reload import Built, load_and_build
from meshgate.server.runtime import Runtime, run, run_loop
from meshgate.server.state import ServingState
from meshgate.server.tls import ALPN_LISTENER, client_context, server_context

log = logging.getLogger("meshgate.serve")

FIRST_JWKS_WAIT_S = 5.0  # how long startup waits for the first JWKS fetches before listening anyway
LISTEN_BACKLOG = 2048


@dataclass(frozen=True, slots=True)
class ServeOptions(WorkloadOptions):
    """Every `meshgate serve` flag (cli/serve.py); the shared ones are WorkloadOptions'."""

    listen: str = "127.0.0.1:8080"
    upstream: str | None = None  # None: the built-in `Hello World!` app
    workers: int = 1
    tls_cert: str | None = None
    tls_key: str | None = None
    upstream_timeout: float = 15.0  # Envoy route timeout default
    upstream_protocol: str = "http1"  # or "h2" (gateway/h2/upstream.py)
    drain_timeout: float = 10.0
    bind: str = "127.0.0.1"  # the host of the listeners Gateways ask for (meshgate as the ingress)


def load_config(opts: ServeOptions) -> Built:
    """Load, validate and compile the config (raises ConfigError with every problem)."""
    return load_and_build(list(opts.config_paths), opts.workload, opts.engine_options, ingress=True)


class Gateway:
    """One running `serve` process: start it, read its ports, stop it (draining)."""

    def __init__(
        self,
        opts: ServeOptions,
        *,
        reuse_port: bool = False,
        with_admin: bool = True,
        announce: TextIO | None = None,
        access_log_stream: TextIO | None = None,
    ) -> None:
        self.opts = opts
        self.reuse_port = reuse_port
        self.announce = announce
        self.log_stream = DeferredFlushStream(access_log_stream or sys.stdout)
        self.runtime = Runtime(opts, cast(TextIO, self.log_stream), with_admin=with_admin, ingress=True)
        self.server: asyncio.AbstractServer | None = None
        self.ctx: GatewayContext | None = None
        self.listeners: IngressListeners | None = None  # when Gateways select meshgate (the ingress)
        self.flusher: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def admin(self) -> AdminServer | None:
        return self.runtime.admin

    async def start(self) -> None:
        """Raises ConfigError / UsageError / OSError (port in use) before anything is served."""
        opts = self.opts
        host, port = parse_address(opts.listen, "--listen")
        if bool(opts.tls_cert) != bool(opts.tls_key):
            raise UsageError("--tls-cert and --tls-key go together")
        tls = None
        if opts.tls_cert and opts.tls_key:
            tls = server_context(opts.tls_cert, opts.tls_key, ALPN_LISTENER)
        target = UpstreamTarget.parse(opts.upstream) if opts.upstream else None
        pool: Pool | None = None
        if target is not None:
            tls_client = (
                client_context(opts.ca_file, h2=opts.upstream_protocol == "h2") if target.tls else None
            )
            pool = (H2Pool if opts.upstream_protocol == "h2" else UpstreamPool)(target, tls_client)
        state = await self.runtime.start()
        self.flusher = asyncio.get_running_loop().create_task(self.log_stream.flush_periodically())
        await state.keystore.wait_first_attempts(FIRST_JWKS_WAIT_S)
        if state.ingress is not None:
            await self._start_ingress(state)
            return
        state.on_swap.append(functools.partial(_mode_changed, state, False))
        self.ctx = ctx = GatewayContext(
            state, pool, scheme="https" if tls else "http", upstream_timeout=opts.upstream_timeout,
            access_log=opts.access_log_format != "off", custom_providers=self.runtime.providers,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: AutoProtocol(ctx),
            host,
            port,
            ssl=tls,
            reuse_port=self.reuse_port or None,
            backlog=LISTEN_BACKLOG,
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        self._announce(host, target, tls is not None)

    async def _start_ingress(self, state: ServingState) -> None:
        """Gateways select meshgate: listen where they say (not `--listen`), route per request."""
        self.listeners = listeners = IngressListeners(
            state, bind=self.opts.bind, upstream_timeout=self.opts.upstream_timeout,
            access_log=self.opts.access_log_format != "off", custom_providers=self.runtime.providers,
            reuse_port=self.reuse_port,
        )  # fmt: skip
        if self.opts.upstream:
            log.warning(
                "Gateways select this workload: --listen and --upstream are not used (docs/routing.md)"
            )
        await listeners.sync()
        state.on_swap.append(listeners.resync)
        state.on_swap.append(functools.partial(_mode_changed, state, True))
        if self.announce is not None:
            lines = listeners.lines()
            if self.admin is not None:
                lines.append(f"meshgate serve: admin on http://{self.admin.host}:{self.admin.port}")
            print("\n".join(lines), file=self.announce, flush=True)

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
        self.runtime.reload_now()

    async def stop(self, grace_s: float) -> None:
        """Stop accepting, let in-flight requests finish for up to `grace_s`, then close everything."""
        if self.server is not None:
            self.server.close()
        if self.ctx is not None:
            self.ctx.drain()
            await self.ctx.wait_closed(grace_s)
            self.ctx.abort_all()
        if self.listeners is not None:
            await self.listeners.stop(grace_s)
        await self.runtime.close()
        if self.flusher is not None:
            self.flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.flusher


def _mode_changed(state: ServingState, routed: bool) -> None:
    """A reload that adds or removes every Gateway selecting meshgate: say what it means (the mode is chosen
    at startup)."""
    if routed and state.ingress is None:
        log.warning(
            "no Gateway selects this workload any more: its listeners are closed; restart to use --listen"
        )
    elif not routed and state.ingress is not None:
        log.warning("a Gateway now selects this workload: restart meshgate serve to serve as the ingress")


async def run_serve(opts: ServeOptions, *, worker: int = 0, reuse_port: bool = False) -> int:
    """Serve until SIGTERM/SIGINT (or cancellation); the exit code of `meshgate serve`."""
    gateway = Gateway(
        opts, reuse_port=reuse_port, with_admin=worker == 0, announce=sys.stdout if worker == 0 else None
    )
    return await run(gateway, "serve", opts.drain_timeout)


def serve_main(opts: ServeOptions) -> int:
    """The `meshgate serve` entry point: one process, or `--workers N` forked processes."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    if opts.workers <= 1:
        return run_loop(lambda: run_serve(opts))
    try:
        load_config(opts)  # fail before forking: every worker would print the same problems
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        return EXIT_USAGE
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
                code = run_loop(functools.partial(run_serve, opts, worker=index, reuse_port=True))
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
