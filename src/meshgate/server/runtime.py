"""A serving process's common body: what `serve` and `authz-server` build, run and stop alike.

Both serve one workload's policies with the same parts: the CUSTOM providers of `--mesh-config`, the
configuration loaded and compiled, the key store, the `ServingState` every front reads, the reloader (file
polling, and SIGHUP) and the admin port. Only their fronts differ (gateway/serve.py, extauthz/service.py).
`run` is the process around a service: start it (a bad configuration or a taken port is exit 2 with its
problems), freeze what was loaded out of the collector's walks (server/gc_tuning.py), serve until SIGTERM or
SIGINT, reload on SIGHUP, stop. Where signal handlers cannot be installed (not the main thread: tests,
embedding) the service runs without them; a stop signal that arrives while starting is honoured once started.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TextIO

from meshgate.custom.providers import CustomProviders
from meshgate.errors import EXIT_OK, EXIT_USAGE, ConfigError, UsageError
from meshgate.keystore.store import KeyStore
from meshgate.server.access_log import AccessLog, AccessLogFormat
from meshgate.server.admin.server import AdminServer
from meshgate.server.gc_tuning import tune_for_serving
from meshgate.server.metrics import Metrics
from meshgate.server.options import WorkloadOptions, parse_address
from meshgate.server.reload import ConfigReloader, load_and_build
from meshgate.server.state import ServingState

ACCESS_LOG_FORMATS = ("envoy", "json")


class Runtime:
    """The parts a serving process shares; `start` raises ConfigError / UsageError / OSError before serving."""

    def __init__(
        self,
        opts: WorkloadOptions,
        access_log_stream: TextIO,
        *,
        with_admin: bool = True,
        ingress: bool = False,
    ) -> None:
        self.opts = opts
        self.ingress = ingress  # build the routing table (server/ingress.py): `serve` only
        self.access_log_stream = access_log_stream
        self.with_admin = with_admin and bool(opts.admin)
        self.providers = CustomProviders({})
        self.state: ServingState | None = None
        self.keystore: KeyStore | None = None
        self.reloader: ConfigReloader | None = None
        self.admin: AdminServer | None = None

    async def start(self) -> ServingState:
        opts = self.opts
        admin_at = parse_address(opts.admin, "--admin") if self.with_admin and opts.admin else None
        log_format = "envoy" if opts.access_log_format == "off" else opts.access_log_format
        if log_format not in ACCESS_LOG_FORMATS:
            raise UsageError(f"--access-log-format: envoy, json or off, not {opts.access_log_format!r}")
        self.providers = CustomProviders.from_file(opts.mesh_config)
        options = dataclasses.replace(opts.engine_options, custom_providers=self.providers.names)
        built = await asyncio.to_thread(
            functools.partial(load_and_build, ingress=self.ingress), opts.config_paths, opts.workload, options
        )
        self.keystore = keystore = KeyStore(
            built.jwks_sources(), min_refetch_interval_s=opts.jwks_min_refresh, ca_file=opts.ca_file
        )
        fmt: AccessLogFormat = "json" if log_format == "json" else "envoy"
        self.state = state = ServingState(
            built.engine, keystore, Metrics(), AccessLog(self.access_log_stream, fmt),
            config_paths=opts.config_paths, workload=opts.workload, options=options, resources=built.resources,
        )  # fmt: skip
        state.ingress, state.ingress_enabled = built.ingress, self.ingress
        await keystore.start()
        # What the first load read: an edit made before the reloader exists is still a change.
        self.reloader = ConfigReloader(state, opts.config_paths, loaded=built.read)
        await self.reloader.start()
        if admin_at is not None:
            self.admin = AdminServer(state, *admin_at)
            await self.admin.start()
        return state

    def reload_now(self) -> None:
        if self.reloader is not None:
            self.reloader.reload_now()

    async def close(self) -> None:
        """Close what was started, the latest first; whatever fails, the rest still closes."""
        for closer in (self.reloader, self.admin, self.keystore, self.providers):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer.close()


class Service(Protocol):
    """A front over a Runtime (gateway/serve.py Gateway, extauthz/service.py AuthzServer)."""

    async def start(self) -> None: ...
    async def stop(self, grace_s: float) -> None: ...
    def reload_now(self) -> None: ...


async def run(service: Service, command: str, drain_s: float) -> int:
    """Start `service`, serve until SIGTERM/SIGINT (SIGHUP reloads), stop draining for up to `drain_s`."""
    try:
        await service.start()
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        await service.stop(0)
        return EXIT_USAGE
    except (UsageError, OSError) as exc:
        print(f"meshgate {command}: {exc}", file=sys.stderr)
        await service.stop(0)
        return EXIT_USAGE
    tune_for_serving()  # after the configuration is compiled: it is frozen out of the collector's walks
    stop = asyncio.Event()
    installed = _install_signals(
        {signal.SIGTERM: stop.set, signal.SIGINT: stop.set, signal.SIGHUP: service.reload_now}
    )
    if _EARLY_STOP:  # SIGTERM/SIGINT arrived while starting: start cleanly, then drain and exit 0
        stop.set()
    try:
        await stop.wait()
    finally:
        _remove_signals(installed)
        await service.stop(drain_s)
    return EXIT_OK


def run_loop(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run `main()` on uvloop (asyncio's loop without it); a stop signal before the loop's own handlers are
    installed is remembered, a SIGHUP then is ignored (the configuration is being loaded fresh anyway)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _note_early_stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
            return asyncio.run(main())
        return uvloop.run(main())
    except KeyboardInterrupt:
        return EXIT_OK


def _install_signals(handlers: dict[signal.Signals, Callable[[], None]]) -> list[signal.Signals]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig, handler in handlers.items():
        try:
            loop.add_signal_handler(sig, handler)
        except (RuntimeError, ValueError, NotImplementedError):  # not the main thread (tests, embedding)
            continue
        installed.append(sig)
    return installed


def _remove_signals(installed: list[signal.Signals]) -> None:
    loop = asyncio.get_running_loop()
    for sig in installed:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(sig)


_EARLY_STOP: list[int] = []  # a stop signal that arrived before the event loop's handlers were installed


def _note_early_stop(signum: int, _frame: object) -> None:
    _EARLY_STOP.append(signum)
