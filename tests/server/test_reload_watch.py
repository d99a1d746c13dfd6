"""What the reloader watches: exactly the files a load reads, compared by content.

Real files, a real poller (20 ms interval), counted through `meshgate_config_reload_total`. Each scenario
waits for polls, not for time: after the change it lets `SETTLE_POLLS` polls complete, so a reload that
should not happen has had every chance to, and "exactly one" cannot be two. The ConfigMap layout and its
update are kubelet's AtomicWriter's (kubernetes/kubernetes:pkg/volume/util/atomic_writer.go).
"""

from __future__ import annotations

import asyncio
import inspect
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from meshgate.config.model import Workload
from meshgate.engine.options import EngineOptions
from meshgate.keystore.store import KeyStore
from meshgate.server.access_log import AccessLog
from meshgate.server.metrics import Metrics
from meshgate.server.reload import ConfigReloader, load_and_build
from meshgate.server.state import ServingState

POLL_S = 0.02
SETTLE_POLLS = 15
AP = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: {name}, namespace: default}}
spec:
  action: DENY
  rules:
  - to:
    - operation: {{paths: ["/{name}"]}}
"""
INVALID = AP.format(name="broken").replace("action: DENY", "action: DENY\n  bogus: 1")

Action = Callable[[Path], object]  # a coroutine is awaited; anything else is done when it returns


def counts(state: ServingState) -> tuple[int, int]:
    """(success, rejected) from the exported counter, as a scrape would read it."""
    found = {}
    for line in state.metrics.render().decode().splitlines():
        if line.startswith("meshgate_config_reload_total{"):
            found[line.split('result="')[1].split('"')[0]] = int(float(line.split()[-1]))
    return found["success"], found["rejected"]


def policy_names(state: ServingState) -> list[str]:
    assert state.resources is not None
    return sorted(p.name for p in state.resources.authorization_policies)


class Watched:
    """A serving state over `paths` and its reloader, started from what the first load read."""

    def __init__(self, paths: list[str], *, after_load: Callable[[], object] = lambda: None) -> None:
        built = load_and_build(paths, Workload(), EngineOptions())
        after_load()  # what happens between the serving config's load and the reloader's start
        self.state = ServingState(
            built.engine,
            KeyStore(()),
            Metrics(),
            AccessLog(io.StringIO()),
            config_paths=paths,
            resources=built.resources,
        )
        self.reloader = ConfigReloader(self.state, paths, poll_interval_s=POLL_S, loaded=built.read)

    async def polls(self, n: int = SETTLE_POLLS) -> None:
        """Return once `n` more polls have completed (each compares and, if needed, reloads)."""
        target = self.reloader.watch.polls + n
        async with asyncio.timeout(10):
            while self.reloader.watch.polls < target:
                await asyncio.sleep(POLL_S / 4)

    async def close(self) -> None:
        await self.reloader.close()
        await self.state.keystore.close()


def plain_dir(root: Path) -> list[str]:
    root.mkdir()
    (root / "policy.yaml").write_text(AP.format(name="one"))
    (root / "sub").mkdir()
    (root / "sub" / "two.yml").write_text(AP.format(name="two"))
    return [str(root)]


def configmap(root: Path, version: str, files: dict[str, str]) -> None:
    """kubelet's AtomicWriter: write `..<ts>/`, point `..data_tmp` at it, rename over `..data`, link keys."""
    (root / version).mkdir(parents=True)
    for name, text in files.items():
        (root / version / name).write_text(text)
    os.symlink(version, root / "..data_tmp")
    os.replace(root / "..data_tmp", root / "..data")
    for name in files:
        if not (root / name).is_symlink():
            os.symlink(f"..data/{name}", root / name)


def configmap_dir(root: Path) -> list[str]:
    configmap(root, "..2026_12_07_10_00_00.1", {"policy.yaml": AP.format(name="one")})
    return [str(root)]


async def log_every_100ms_for_5s(root: Path) -> None:
    with open(root / "meshgate.log", "a", buffering=1) as log:
        for i in range(50):
            log.write(f"request {i}\n")
            await asyncio.sleep(0.1)


def ignored_files(root: Path) -> None:
    for name in (".policy.yaml.swp", "policy.yaml~", "#policy.yaml#", "4913", "notes.txt", "policy.yaml.bak"):
        (root / name).write_text(AP.format(name="ignored"))
    for hidden in (".git", ".venv/lib", ".hidden"):
        (root / hidden).mkdir(parents=True)
        (root / hidden / "extra.yaml").write_text(AP.format(name="hidden"))


def same_bytes_new_inode(root: Path) -> None:
    (root / "policy.yaml.tmp").write_text(AP.format(name="one"))
    os.replace(root / "policy.yaml.tmp", root / "policy.yaml")


def new_file_in_subdir(root: Path) -> None:
    (root / "sub" / "deeper").mkdir()
    (root / "sub" / "deeper" / "three.json").write_text(AP.format(name="three"))


SCENARIOS: list[tuple[str, Callable[[Path], list[str]], Action, int, list[str]]] = [
    # (id, layout, action, expected successful reloads, policies served afterwards)
    ("log-every-100ms-for-5s", plain_dir, log_every_100ms_for_5s, 0, ["one", "two"]),
    ("touch", plain_dir, lambda r: os.utime(r / "policy.yaml"), 0, ["one", "two"]),
    ("rewrite-same-bytes", plain_dir, lambda r: (r / "policy.yaml").write_text(AP.format(name="one")), 0,
     ["one", "two"]),
    ("same-bytes-new-inode", plain_dir, same_bytes_new_inode, 0, ["one", "two"]),
    ("chmod", plain_dir, lambda r: os.chmod(r / "policy.yaml", 0o600), 0, ["one", "two"]),
    ("ignored-and-hidden-files", plain_dir, ignored_files, 0, ["one", "two"]),
    ("real-edit", plain_dir, lambda r: (r / "policy.yaml").write_text(AP.format(name="edited")), 1,
     ["edited", "two"]),
    ("new-yaml", plain_dir, lambda r: (r / "three.yaml").write_text(AP.format(name="three")), 1,
     ["one", "three", "two"]),
    ("new-json-in-new-subdir", plain_dir, new_file_in_subdir, 1, ["one", "three", "two"]),
    ("deleted-yaml", plain_dir, lambda r: (r / "sub" / "two.yml").unlink(), 1, ["one"]),
    ("renamed-yaml", plain_dir, lambda r: (r / "policy.yaml").rename(r / "renamed.yaml"), 1, ["one", "two"]),
    ("configmap-swap", configmap_dir,
     lambda r: configmap(r, "..2026_12_07_10_05_00.2", {"policy.yaml": AP.format(name="swapped")}), 1,
     ["swapped"]),
    ("configmap-swap-same-bytes", configmap_dir,
     lambda r: configmap(r, "..2026_12_07_10_05_00.2", {"policy.yaml": AP.format(name="one")}), 0, ["one"]),
    ("configmap-key-added", configmap_dir,
     lambda r: configmap(r, "..2026_12_07_10_05_00.2",
                         {"policy.yaml": AP.format(name="one"), "more.yaml": AP.format(name="more")}), 1,
     ["more", "one"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("layout", "action", "reloads", "served"),
    [pytest.param(*row[1:], id=row[0]) for row in SCENARIOS],
)
def test_only_a_change_of_what_is_loaded_reloads(
    tmp_path: Path, layout: Callable[[Path], list[str]], action: Action, reloads: int, served: list[str]
) -> None:
    async def scenario() -> None:
        root = tmp_path / "config"
        watched = Watched(layout(root))
        old = watched.state.engine
        await watched.reloader.start()
        await watched.polls(2)
        outcome = action(root)
        if inspect.isawaitable(outcome):
            await outcome
        await watched.polls()
        assert counts(watched.state) == (reloads, 0)
        assert (watched.state.engine is old) == (reloads == 0)
        assert policy_names(watched.state) == served
        await watched.close()

    asyncio.run(scenario())


def test_a_touch_is_compared_by_content_not_ignored(tmp_path: Path) -> None:
    """The touch scenario is not passed by a watcher that never looks: the file is re-read, then kept."""

    async def scenario() -> None:
        watched = Watched(plain_dir(tmp_path / "config"))
        await watched.reloader.start()
        await watched.polls(2)
        before = watched.reloader.watch.rereads
        os.utime(tmp_path / "config" / "policy.yaml", ns=(1, 1))  # far in the past: a trusted new key
        await watched.polls()
        assert watched.reloader.watch.rereads > before
        assert counts(watched.state) == (0, 0)
        await watched.close()

    asyncio.run(scenario())


def test_rejected_edit_is_rejected_once_and_fixing_it_reloads_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        root = tmp_path / "config"
        watched = Watched(plain_dir(root))
        old = watched.state.engine
        await watched.reloader.start()
        (root / "policy.yaml").write_text(INVALID)
        await watched.polls()
        assert counts(watched.state) == (0, 1)  # not once per poll
        assert watched.state.engine is old and policy_names(watched.state) == ["one", "two"]
        problems = watched.state.last_reload["problems"] if watched.state.last_reload else []
        assert any('policy.yaml:6: unknown field "bogus"' in p for p in problems), problems
        (root / "policy.yaml").write_text(AP.format(name="fixed"))
        await watched.polls()
        assert counts(watched.state) == (1, 1)
        assert policy_names(watched.state) == ["fixed", "two"]
        await watched.close()

    asyncio.run(scenario())


def test_sighup_reloads_even_when_nothing_changed(tmp_path: Path) -> None:
    async def scenario() -> None:
        watched = Watched(plain_dir(tmp_path / "config"))
        old = watched.state.engine
        await watched.reloader.start()
        assert await watched.reloader.reload_now() is True
        await watched.polls()
        assert counts(watched.state) == (1, 0) and watched.state.engine is not old
        await watched.close()

    asyncio.run(scenario())
