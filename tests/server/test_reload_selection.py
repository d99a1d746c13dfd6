"""The reloader watches the loader's own file list (`files_to_load`, config/load.py), and compares with
the very bytes a load read.

Kubernetes' AtomicWriter layout (`..data` → `..<timestamp>/`, each key a symlink through `..data`):
kubernetes/kubernetes:pkg/volume/util/atomic_writer.go.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.server.test_reload_watch import AP, SETTLE_POLLS, Watched, counts, policy_names

from meshgate.config.load import files_to_load, load_paths
from meshgate.server.reload import ConfigReloader


def plain(root: Path) -> list[str]:
    for name in (
        "c.yaml",
        "a.yml",
        "b.json",
        "notes.txt",
        ".hidden.yaml",
        "policy.yaml~",
        ".policy.yaml.swp",
    ):
        (root / name).write_text("# x\n")
    for sub in ("sub", ".git", ".venv/lib", "node_modules/pkg"):
        (root / sub).mkdir(parents=True)
        (root / sub / "d.yaml").write_text("# x\n")
    return [str(root)]


def configmap(root: Path) -> list[str]:
    (root / "..2026_12_07_10_00_00.1").mkdir()
    (root / "..2026_12_07_10_00_00.1" / "policy.yaml").write_text("# x\n")
    (root / "..2026_12_07_10_00_00.1" / "notes.txt").write_text("# x\n")
    os.symlink("..2026_12_07_10_00_00.1", root / "..data")
    os.symlink("..data/policy.yaml", root / "policy.yaml")
    os.symlink("..data/notes.txt", root / "notes.txt")
    return [str(root)]


def data_dir_only(root: Path) -> list[str]:
    (root / "..2026_12_07").mkdir()
    (root / "..2026_12_07" / "only.yml").write_text("# x\n")
    os.symlink("..2026_12_07", root / "..data")
    return [str(root)]


def hard_link(root: Path) -> list[str]:
    (root / "a.yaml").write_text("# x\n")
    os.link(root / "a.yaml", root / "b.yaml")
    return [str(root)]


def links(root: Path) -> list[str]:
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "e.yaml").write_text("# x\n")
    (root / "conf").mkdir()
    os.symlink("../elsewhere", root / "conf" / "linked")
    os.symlink("..", root / "conf" / "loop")  # back to root: each directory is read once
    os.symlink("gone.yaml", root / "conf" / "dangling.yaml")
    return [str(root / "conf")]


def named(root: Path) -> list[str]:
    (root / "policy.txt").write_text("# x\n")
    return [str(root / "policy.txt"), str(root / "absent.yaml"), str(root / "policy.txt")]


SELECTION: list[tuple[str, Callable[[Path], list[str]], list[str]]] = [
    # hidden entries skipped by name (`.git/`, `.venv/`, swap files); only .yaml/.yml/.json; sorted; recursive
    ("plain-dir", plain, ["a.yml", "b.json", "c.yaml", "node_modules/pkg/d.yaml", "sub/d.yaml"]),
    # each key once, under its visible name; the timestamped directory is never walked
    ("configmap", configmap, ["policy.yaml"]),
    ("configmap-data-dir-only", data_dir_only, ["..data/only.yml"]),
    ("hard-link-read-once", hard_link, ["a.yaml"]),
    ("symlinked-dir-followed-loop-and-dangling-skipped", links, ["conf/linked/e.yaml"]),
    # a named file whatever its suffix; a missing one is reported (and watched); named twice, read once
    ("named-files", named, ["policy.txt", "absent.yaml"]),
]  # fmt: skip


@pytest.mark.parametrize(("layout", "expected"), [pytest.param(*r[1:], id=r[0]) for r in SELECTION])
def test_the_watcher_and_the_loader_read_the_same_files(
    tmp_path: Path, layout: Callable[[Path], list[str]], expected: list[str]
) -> None:
    paths = layout(tmp_path)
    selected = files_to_load(paths)
    assert [os.path.relpath(s.path, tmp_path) for s in selected] == expected
    read = load_paths(paths).read
    assert [r.selected.path for r in read] == [s.path for s in selected]


def test_a_load_records_the_digest_of_the_bytes_it_read(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_bytes(b"\xef\xbb\xbf# with a BOM\n")
    first, missing = load_paths([str(tmp_path / "policy.yaml"), str(tmp_path / "absent.yaml")]).read
    assert first.digest == hashlib.sha256(b"\xef\xbb\xbf# with a BOM\n").hexdigest()
    assert missing.selected.stat is None and missing.digest == "unreadable: No such file or directory"


def test_a_change_between_the_startup_load_and_the_reloader_is_reloaded(tmp_path: Path) -> None:
    """`loaded=` is what the serving config's load read: an edit made before the reloader existed is seen.
    (Reading the files again in the constructor would take the edit as already loaded.)"""

    async def scenario() -> None:
        (tmp_path / "policy.yaml").write_text(AP.format(name="old"))
        edit = lambda: (tmp_path / "policy.yaml").write_text(AP.format(name="new"))  # noqa: E731
        watched = Watched([str(tmp_path)], after_load=edit)
        await watched.reloader.start()
        await watched.polls(SETTLE_POLLS)
        assert counts(watched.state) == (1, 0) and policy_names(watched.state) == ["new"]
        await watched.close()

    asyncio.run(scenario())


def test_a_pipe_is_loaded_once_and_never_read_again_by_a_poll(tmp_path: Path) -> None:
    """`-c <(kubectl get ...)`: re-reading the pipe would read nothing and serve an empty configuration."""

    async def scenario() -> None:
        read_end, write_end = os.pipe()
        os.write(write_end, AP.format(name="piped").encode())
        os.close(write_end)
        try:
            watched = Watched([f"/dev/fd/{read_end}"])
            assert policy_names(watched.state) == ["piped"]
            await watched.reloader.start()
            await watched.polls(SETTLE_POLLS)
            assert counts(watched.state) == (0, 0) and policy_names(watched.state) == ["piped"]
            await watched.close()
        finally:
            os.close(read_end)

    asyncio.run(scenario())


def test_a_reload_compares_next_with_what_it_read(tmp_path: Path) -> None:
    async def scenario() -> None:
        (tmp_path / "policy.yaml").write_text(AP.format(name="one"))
        watched = Watched([str(tmp_path)])
        (tmp_path / "policy.yaml").write_text(AP.format(name="two"))
        reloader: ConfigReloader = watched.reloader
        assert await reloader.reload() is True
        (loaded,) = reloader.watch.loaded
        assert loaded.digest == hashlib.sha256(AP.format(name="two").encode()).hexdigest()
        (tmp_path / "policy.yaml").write_text(AP.format(name="six"))  # same size, right after the load
        await reloader.start()
        await watched.polls(SETTLE_POLLS)
        assert counts(watched.state) == (2, 0) and policy_names(watched.state) == ["six"]
        await watched.close()

    asyncio.run(scenario())
