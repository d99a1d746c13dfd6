"""A poll's cost does not grow with unrelated files : `-c DIR` in a project directory holding
thousands of logs, a `.git/` and a `.venv/` lists only the directories a load reads and looks at no file
the loader ignores. Counted, not timed: directory listings and opens through Python's audit events
(`os.scandir`, `os.listdir`, `open`), stats through a counting wrapper around the real `os.stat`.

Mutations caught: a walk of the whole tree (the old fingerprint listed every `.git/objects/xx/`), or a
stat of every directory entry to decide whether it is a directory (thousands of stats of `*.log`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from meshgate.server.config_watch import ConfigWatch, scan

AUDITED = {"os.scandir", "os.listdir", "open"}
# The active recorder, if any (an audit hook cannot be removed), and the thread it records: another
# test's server still polling in its own thread must not count.
_recording: list[tuple[int, list[tuple[str, str]]]] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _recording and event in AUDITED and args and isinstance(args[0], str | bytes | os.PathLike):
        owner, calls = _recording[-1]
        if threading.get_ident() == owner:
            calls.append((event, os.fsdecode(args[0])))


sys.addaudithook(_hook)


@contextmanager
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Every listing, open and stat this thread makes inside the block, as (event, path)."""
    calls: list[tuple[str, str]] = []
    owner = threading.get_ident()
    real_stat: Callable[..., os.stat_result] = os.stat

    def counting_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if threading.get_ident() == owner:
            calls.append(("os.stat", os.fsdecode(path)))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    _recording.append((owner, calls))
    try:
        yield calls
    finally:
        _recording.pop()
        monkeypatch.setattr(os, "stat", real_stat)


def project_dir(root: Path) -> None:
    """A config file and a nested one, among 1,000 logs, 1,000 `.git` objects and 1,000 `.venv` files."""
    (root / "policies").mkdir(parents=True)
    (root / "policy.yaml").write_text("# no resources\n")
    (root / "policies" / "more.yaml").write_text("# no resources\n")
    for i in range(1000):
        (root / f"access-{i}.log").write_text("GET / 200\n")
    for d in range(25):
        objects = root / ".git" / "objects" / f"{d:02x}"
        objects.mkdir(parents=True)
        for i in range(40):
            (objects / f"{i:038x}").write_bytes(b"x")
    site = root / ".venv" / "lib" / "site-packages" / "pkg"
    site.mkdir(parents=True)
    for i in range(1000):
        (site / f"m{i}.yaml" if i % 2 else site / f"m{i}.py").write_text("x: 1\n")


def test_a_poll_touches_only_what_a_load_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "project"
    project_dir(root)
    watch = ConfigWatch([str(root)], scan([str(root)]))
    loaded = {str(root / "policy.yaml"), str(root / "policies" / "more.yaml")}
    with recorded(monkeypatch) as calls:
        assert watch.changed() is False
    listings = sorted(path for event, path in calls if event in ("os.scandir", "os.listdir"))
    assert listings == [str(root), str(root / "policies")]
    stats = sorted(path for event, path in calls if event == "os.stat")
    assert stats == sorted([str(root), str(root / "policies"), *loaded])
    assert {path for event, path in calls if event == "open"} <= loaded  # re-read only while racy
    assert len(calls) <= 8
