"""Load Istio resources from files, directories and text, with every problem at its `file:line`.

`files_to_load` is the one place that says which files a load reads; the config reloader watches
exactly that list (server/config_watch.py), so a file the loader ignores can never trigger a reload.
Directories are walked recursively (`*.yaml`, `*.yml`, `*.json`, sorted); hidden entries (a leading
`.`: `.git/`, `.venv/`, editor swap files) are skipped without being looked at. A Kubernetes ConfigMap
mount (`..data -> ..2026_01_01_00_00_00.123/`, plus one symlink per key) is loaded once: the
timestamped directories are skipped, `..data` is followed, and each real file is read only once.
Each file read is recorded with a digest of its bytes (`LoadResult.read`), so a watcher compares
against exactly what was loaded. Nothing here raises for bad input; `load_resources` raises ConfigError.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass

from meshgate.config.model import AuthorizationPolicy, RequestAuthentication, ResourceSet
from meshgate.config.networking.crosscheck import check_references
from meshgate.config.networking.model import Gateway, ServiceEntry, TlsSecret, VirtualService
from meshgate.config.parse import DocResult, Resource, parse_document
from meshgate.config.yamlnodes import SyntaxProblem, compose_documents
from meshgate.errors import ConfigError, Problem

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
CONFIGMAP_DATA_DIR = "..data"  # kubelet AtomicWriter: the symlink to the current timestamped dir


@dataclass(frozen=True, slots=True)
class Selected:
    """A file a load reads: its stat (following symlinks) taken at `stat_ns`, or None when a path named
    on the command line does not exist (`error` says why)."""

    path: str
    stat: os.stat_result | None
    stat_ns: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class FileRead:
    """What a load read from one file: the stat seen just before reading, and a digest of the bytes."""

    selected: Selected
    digest: str


@dataclass(frozen=True, slots=True)
class LoadResult:
    resources: ResourceSet
    problems: tuple[Problem, ...] = ()
    read: tuple[FileRead, ...] = ()  # in load order

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings do not fail a load)."""
        return not any(not p.warning for p in self.problems)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.warning)


class _Loader:
    def __init__(self) -> None:
        self.result = DocResult()
        self.index = 0
        self.read: list[FileRead] = []

    def text(self, text: str, filename: str) -> None:
        for doc in compose_documents(text):
            if isinstance(doc, SyntaxProblem):
                self.result.problems.append(Problem(filename, doc.line, doc.message))
            else:
                self.index = parse_document(doc, filename, self.result, self.index)

    def file(self, selected: Selected) -> None:
        data = read_selected(selected)
        self.read.append(FileRead(selected, digest(data)))
        path = selected.path
        if isinstance(data, str):
            self.result.problems.append(Problem(path, 1, f"cannot read file: {data}"))
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.result.problems.append(Problem(path, 1, f"file is not valid UTF-8: {exc.reason}"))
            return
        self.text(text, path)

    def finish(self) -> LoadResult:
        res = self.result
        resources = _drop_duplicates(res.resources, res.problems)
        resource_set = ResourceSet(
            request_authentications=tuple(r for r in resources if isinstance(r, RequestAuthentication)),
            authorization_policies=tuple(r for r in resources if isinstance(r, AuthorizationPolicy)),
            skipped=tuple(res.skipped),
            gateways=tuple(r for r in resources if isinstance(r, Gateway)),
            virtual_services=tuple(r for r in resources if isinstance(r, VirtualService)),
            service_entries=tuple(r for r in resources if isinstance(r, ServiceEntry)),
            secrets=tuple(r for r in resources if isinstance(r, TlsSecret)),
        )
        problems = list(res.problems) + check_references(
            resource_set, res.rejected
        )  # config/networking/crosscheck.py
        return LoadResult(resource_set, tuple(problems), tuple(self.read))


def files_to_load(paths: Sequence[str]) -> list[Selected]:
    """The files a load of `paths` reads, in load order: a named file whatever its name, a directory's
    config files (`_walk`), and each named path that does not exist. A file reached twice (a ConfigMap's
    `key -> ..data/key`, a directory named twice, a hard link) is read once, where first reached."""
    out: list[Selected] = []
    seen: set[tuple[int, int]] = set()  # (st_dev, st_ino) of files and directories already taken
    for path in paths:
        now = time.time_ns()
        try:
            st = os.stat(path)
        except OSError as exc:
            out.append(Selected(path, None, now, exc.strerror or type(exc).__name__))
            continue
        if stat.S_ISDIR(st.st_mode):
            _walk(path, st, seen, out)
        else:
            _take(path, st, now, seen, out)
    return out


def _walk(directory: str, dir_stat: os.stat_result, seen: set[tuple[int, int]], out: list[Selected]) -> None:
    """One listing per directory; names are judged before any stat, so hidden entries and files without a
    config suffix cost nothing. Only symlinks, subdirectories and config files are stat'ed."""
    if (dir_stat.st_dev, dir_stat.st_ino) in seen:  # a symlink loop, or a directory named twice
        return
    seen.add((dir_stat.st_dev, dir_stat.st_ino))
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: (e.name == CONFIGMAP_DATA_DIR, e.name))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith(".") and name != CONFIGMAP_DATA_DIR:
            continue  # hidden entries, incl. kubelet's timestamped `..2026_…` dirs and `..data_tmp`
        link = entry.is_symlink()
        if not link and not entry.is_dir(follow_symlinks=False) and not name.endswith(CONFIG_SUFFIXES):
            continue  # a plain file the loader ignores: judged by its name alone
        now = time.time_ns()
        try:
            st = os.stat(entry.path)  # follows symlinks: a swapped `..data` shows as a new inode
        except OSError:
            continue  # a dangling symlink, or an entry gone since the listing
        if stat.S_ISDIR(st.st_mode):
            _walk(entry.path, st, seen, out)
        elif name.endswith(CONFIG_SUFFIXES) and stat.S_ISREG(st.st_mode):
            _take(entry.path, st, now, seen, out)


def _take(path: str, st: os.stat_result, now: int, seen: set[tuple[int, int]], out: list[Selected]) -> None:
    """Keep a file unless the same file (device and inode) was already taken under another name."""
    if (st.st_dev, st.st_ino) not in seen:
        seen.add((st.st_dev, st.st_ino))
        out.append(Selected(path, st, now))


def read_selected(selected: Selected) -> bytes | str:
    """The file's bytes, or why they cannot be read (the reason a load reports)."""
    if selected.stat is None:
        return selected.error
    try:
        with open(selected.path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def digest(data: bytes | str) -> str:
    """What a load made of one file: the SHA-256 of its bytes, or the reason it could not read them."""
    if isinstance(data, str):
        return f"unreadable: {data}"
    return hashlib.sha256(data).hexdigest()


def _drop_duplicates(resources: list[Resource], problems: list[Problem]) -> list[Resource]:
    """Two resources of one kind with one namespace/name cannot coexist in Kubernetes: an error."""
    first: dict[tuple[str, str, str], Resource] = {}
    kept: list[Resource] = []
    for r in resources:
        key = (type(r).__name__, r.namespace, r.name)
        if key in first:
            seen = first[key].source
            msg = f"duplicate {key[0]} {r.namespace}/{r.name} (first defined at {seen.file}:{seen.line})"
            problems.append(Problem(r.source.file, r.source.line, msg))
            continue
        first[key] = r
        kept.append(r)
    return kept


def load_paths(paths: Sequence[str]) -> LoadResult:
    """Load files and directories in the order given; resources keep that order (creation_index)."""
    loader = _Loader()
    for selected in files_to_load(paths):
        loader.file(selected)
    return loader.finish()


def load_text(text: str, filename: str = "<text>") -> LoadResult:
    loader = _Loader()
    loader.text(text, filename)
    return loader.finish()


def load_resources(paths: Sequence[str]) -> ResourceSet:
    """The resources, or ConfigError with every error (warnings do not fail)."""
    result = load_paths(paths)
    if not result.ok:
        raise ConfigError(list(result.errors))
    return result.resources
