"""Config reload: watch every `-c` path (mtimes and symlink targets, so ConfigMap `..data` swaps count)
and SIGHUP; load and validate the new config whole, build its engine, then swap it in with one assignment.

A rejected config changes nothing: its `file:line` problems are logged, `meshgate_config_reload_total
{result="rejected"}` counts it, and the old engine keeps serving (design.md "Reload is atomic").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from meshgate.engine.options import EngineOptions
from meshgate.errors import ConfigError
from meshgate.fronts.gc_tuning import refreeze_after_reload
from meshgate.fronts.state import ServingState
from meshgate.resources.model import ResourceSet, Workload

if TYPE_CHECKING:
    from meshgate.engine.engine import Engine

log = logging.getLogger("meshgate.reload")

POLL_INTERVAL_S = 1.0
Fingerprint = tuple[tuple[str, ...], ...]


def build_engine(
    paths: Sequence[str], workload: Workload, options: EngineOptions
) -> tuple[ResourceSet, Engine]:
    """Load, validate and compile `paths` for `workload`; raises ConfigError with every problem."""
    from meshgate.engine.engine import Engine
    from meshgate.resources.load import load_resources

    resources = load_resources(list(paths))
    return resources, Engine.for_workload(resources, workload, options)


def fingerprint(paths: Sequence[str]) -> Fingerprint:
    """What a change of any config file looks like: names, resolved targets, mtime, size and inode."""
    out: list[tuple[str, ...]] = []
    for path in paths:
        out.append(_entry(path))
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(dirs):
                    full = os.path.join(root, name)
                    if os.path.islink(full):
                        out.append(("link", full, os.readlink(full)))
                out.extend(_entry(os.path.join(root, name)) for name in sorted(files))
    return tuple(out)


def _entry(path: str) -> tuple[str, ...]:
    try:
        st = os.stat(path)
    except OSError as exc:
        return ("missing", path, type(exc).__name__)
    return ("file", path, os.path.realpath(path), str(st.st_mtime_ns), str(st.st_size), str(st.st_ino))


class ConfigReloader:
    """Polls the config paths and reloads on change; `reload_now()` is the SIGHUP hook."""

    def __init__(
        self,
        state: ServingState,
        paths: Sequence[str] | None = None,
        *,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.state = state
        self.paths = tuple(paths if paths is not None else state.config_paths)
        self.poll_interval_s = poll_interval_s
        self._lock = asyncio.Lock()
        self._fingerprint: Fingerprint = fingerprint(self.paths)
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
        """Load the config whole; swap it in if valid. True when the new config is in force."""
        async with self._lock:
            self._fingerprint = fingerprint(self.paths)
            try:
                resources, engine = await asyncio.to_thread(
                    build_engine, self.paths, self.state.workload, self.state.options
                )
            except ConfigError as exc:
                return self._reject([str(p) for p in exc.problems])
            except Exception as exc:  # a bug in loading must not take the server down
                log.exception("config reload failed unexpectedly")
                return self._reject([f"internal error: {type(exc).__name__}: {exc}"])
            await self._swap(engine, resources)
            return True

    async def close(self) -> None:
        tasks = [t for t in (self._poller, *self._pending) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._poller = None

    async def _swap(self, engine: Engine, resources: ResourceSet) -> None:
        """Fetch new key sets first, swap, then drop the URIs only the old engine used.

        URIs other fronts registered (e.g. ext_authz per-workload engines) are left alone.
        """
        keystore = self.state.keystore
        old_uris = {s.uri for s in self.state.engine.jwks_sources()}
        new_sources = engine.jwks_sources()
        await keystore.add_sources(new_sources)
        self.state.swap(engine, resources, self.paths)
        keystore.discard(old_uris - {s.uri for s in new_sources})
        refreeze_after_reload()  # the old engine's cycles are garbage now: let the collector see them
        self.state.metrics.observe_reload(True)
        self.state.last_reload = {"time": self.state.clock(), "result": "success", "problems": []}
        log.info("config reloaded from %s", ", ".join(self.paths))

    def _reject(self, problems: list[str]) -> bool:
        for problem in problems:
            log.error("config reload rejected: %s", problem)
        self.state.metrics.observe_reload(False)
        self.state.last_reload = {"time": self.state.clock(), "result": "rejected", "problems": problems}
        return False

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            if fingerprint(self.paths) != self._fingerprint:
                try:
                    await self.reload()
                except Exception:  # keep watching whatever went wrong
                    log.exception("config reload failed unexpectedly")
