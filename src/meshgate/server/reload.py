"""Config reload: poll what a load of the `-c` paths reads (server/config_watch.py: the loader's own file
list, compared by content, so a log written beside the config or a `touch` is not a reload; a ConfigMap
`..data` swap is) and SIGHUP (always reloads); load and validate the new config whole, build its engine,
then swap it in with one assignment. What is compared next is what that load read, byte for byte.

A rejected config changes nothing: its `file:line` problems are logged, `meshgate_config_reload_total
{result="rejected"}` counts it, and the old engine keeps serving (docs/architecture.md "A reload").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meshgate.config.load import LoadResult, load_paths
from meshgate.config.model import ResourceSet, Workload
from meshgate.engine.options import EngineOptions
from meshgate.errors import ConfigError
from meshgate.server.config_watch import ConfigWatch, Seen, scan, seen_by_load
from meshgate.server.gc_tuning import refreeze_after_reload
from meshgate.server.ingress import Ingress, build_ingress
from meshgate.server.state import ServingState

if TYPE_CHECKING:
    from meshgate.engine.engine import Engine, JwksSource

log = logging.getLogger("meshgate.reload")

POLL_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class Built:
    """A loaded, validated and compiled configuration, with what its load read (for the watcher)."""

    resources: ResourceSet
    engine: Engine
    read: tuple[Seen, ...]
    ingress: Ingress | None = None  # routing as the ingress (server/ingress.py), when asked and configured

    def jwks_sources(self) -> tuple[JwksSource, ...]:
        return all_sources(self.engine, self.ingress)


def all_sources(engine: Engine, ingress: Ingress | None) -> tuple[JwksSource, ...]:
    """The key sets of the gateway's engine and of every destination workload's."""
    own = engine.jwks_sources()
    uris = {s.uri for s in own}
    extra = ingress.jwks_sources() if ingress is not None else ()
    return own + tuple(s for s in extra if s.uri not in uris)


def load_and_build(
    paths: Sequence[str], workload: Workload, options: EngineOptions, *, ingress: bool = False
) -> Built:
    """Load, validate and compile `paths` for `workload`; raises ConfigError with every problem.

    `ingress`: also build the routing table for `workload` as the gateway and its destinations' engines.

    Pass `.read` to `ConfigReloader(loaded=...)`: the first poll then compares with these very bytes.
    """
    from meshgate.engine.engine import Engine

    result = load_paths(paths)
    if not result.ok:
        raise ConfigError(list(result.errors))
    engine = Engine.for_workload(result.resources, workload, options)
    routed = (
        build_ingress(result.resources, workload, options, engine.authenticator.verified_tokens)
        if ingress
        else None
    )
    return Built(result.resources, engine, seen_by_load(result.read), routed)


class ConfigReloader:
    """Polls the config paths and reloads on change; `reload_now()` is the SIGHUP hook.

    `loaded` is what the serving configuration's load read (`Built.read`); without it the files are read
    now, so a change between that load and this constructor would go unnoticed until the next change.
    """

    def __init__(
        self,
        state: ServingState,
        paths: Sequence[str] | None = None,
        *,
        poll_interval_s: float = POLL_INTERVAL_S,
        loaded: tuple[Seen, ...] | None = None,
    ) -> None:
        self.state = state
        self.paths = tuple(paths if paths is not None else state.config_paths)
        self.poll_interval_s = poll_interval_s
        self._lock = asyncio.Lock()
        self.watch = ConfigWatch(self.paths, loaded if loaded is not None else scan(self.paths))
        self._poller: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[bool]] = set()

    async def start(self) -> None:
        """Start polling (returns at once)."""
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="meshgate config poll")

    def reload_now(self) -> asyncio.Task[bool]:
        """SIGHUP: schedule a reload on the running loop (safe to call from a signal handler callback)."""
        task = asyncio.get_running_loop().create_task(self.reload())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def reload(self) -> bool:
        """Load the config whole; swap it in if valid. True when the new config is in force.

        Whatever the outcome, the watcher then compares with what this load read: a rejected edit is
        rejected once, not at every poll, and fixing it is a change again.
        """
        async with self._lock:
            return await self._reload()

    async def _reload(self) -> bool:
        """`reload` under the lock (the poll holds it from its comparison to the end of the reload)."""
        try:
            result = await asyncio.to_thread(load_paths, self.paths)
        except Exception as exc:  # a bug in loading must not take the server down, nor loop
            self.watch.adopt(await asyncio.to_thread(scan, self.paths))
            return self._failed(exc)
        self.watch.adopt(seen_by_load(result.read))
        if not result.ok:
            return self._reject([str(p) for p in result.errors])
        try:
            engine, ingress = await asyncio.to_thread(self._compile, result)
        except ConfigError as exc:
            return self._reject([str(p) for p in exc.problems])
        except Exception as exc:
            return self._failed(exc)
        await self._swap(engine, result.resources, ingress)
        return True

    def _compile(self, result: LoadResult) -> tuple[Engine, Ingress | None]:
        from meshgate.engine.engine import Engine

        state = self.state
        ingress = None
        if state.ingress_enabled:  # first: a routing error refuses the configuration before compiling more
            ingress = build_ingress(
                result.resources, state.workload, state.options, state.verified_tokens, state.ingress
            )
        engine = Engine.for_workload(
            result.resources, state.workload, state.options,
            verified_tokens=state.verified_tokens, previous=state.engine,
        )  # fmt: skip
        return engine, ingress

    async def close(self) -> None:
        tasks = [t for t in (self._poller, *self._pending) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._poller = None

    async def _swap(self, engine: Engine, resources: ResourceSet, ingress: Ingress | None) -> None:
        """Fetch new key sets first, swap, then drop the URIs only the old engine used.

        URIs other fronts registered (e.g. ext_authz per-workload engines) are left alone.
        """
        keystore = self.state.keystore
        old_uris = {s.uri for s in all_sources(self.state.engine, self.state.ingress)}
        new_sources = all_sources(engine, ingress)
        await keystore.add_sources(new_sources)
        self.state.swap(engine, resources, self.paths, ingress)
        keystore.discard(old_uris - {s.uri for s in new_sources})
        refreeze_after_reload()  # the old engine's cycles are garbage now: let the collector see them
        self.state.metrics.observe_reload(True)
        self.state.last_reload = {"time": self.state.clock(), "result": "success", "problems": []}
        log.info("config reloaded from %s", ", ".join(self.paths))

    def _failed(self, exc: Exception) -> bool:
        log.error("config reload failed unexpectedly", exc_info=exc)
        return self._reject([f"internal error: {type(exc).__name__}: {exc}"])

    def _reject(self, problems: list[str]) -> bool:
        for problem in problems:
            log.error("config reload rejected: %s", problem)
        self.state.metrics.observe_reload(False)
        self.state.last_reload = {"time": self.state.clock(), "result": "rejected", "problems": problems}
        return False

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                async with self._lock:  # a SIGHUP reload never interleaves with a comparison
                    if await asyncio.to_thread(self.watch.changed):
                        await self._reload()
            except Exception:  # keep watching whatever went wrong
                log.exception("config reload failed unexpectedly")
