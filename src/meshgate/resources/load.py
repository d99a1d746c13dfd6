"""Load Istio resources from files, directories and text, with every problem at its `file:line`.

Directories are walked recursively (`*.yaml`, `*.yml`, `*.json`, sorted). A Kubernetes ConfigMap
mount (`..data -> ..2026_01_01_00_00_00.123/`, plus one symlink per key) is loaded once: the
timestamped directories are skipped, `..data` is followed, and each real file is read only once.
Nothing here raises for bad input; `load_resources` raises ConfigError on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from meshgate.errors import ConfigError, Problem
from meshgate.resources.model import AuthorizationPolicy, RequestAuthentication, ResourceSet
from meshgate.resources.parse import DocResult, Resource, parse_document
from meshgate.resources.yamlnodes import SyntaxProblem, compose_documents

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
CONFIGMAP_DATA_DIR = "..data"  # kubelet AtomicWriter: the symlink to the current timestamped dir


@dataclass(frozen=True, slots=True)
class LoadResult:
    resources: ResourceSet
    problems: tuple[Problem, ...] = ()

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
        self.seen_files: set[str] = set()

    def text(self, text: str, filename: str) -> None:
        for doc in compose_documents(text):
            if isinstance(doc, SyntaxProblem):
                self.result.problems.append(Problem(filename, doc.line, doc.message))
            else:
                self.index = parse_document(doc, filename, self.result, self.index)

    def file(self, path: str) -> None:
        real = os.path.realpath(path)
        if real in self.seen_files:
            return
        self.seen_files.add(real)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            self.result.problems.append(Problem(path, 1, f"cannot read file: {exc.strerror or exc}"))
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.result.problems.append(Problem(path, 1, f"file is not valid UTF-8: {exc.reason}"))
            return
        self.text(text, path)

    def path(self, path: str) -> None:
        if os.path.isdir(path):
            for file in config_files(path):
                self.file(file)
        elif os.path.exists(path):
            self.file(path)
        else:
            self.result.problems.append(Problem(path, 1, "cannot read file: No such file or directory"))

    def finish(self) -> LoadResult:
        res = self.result
        resources = _drop_duplicates(res.resources, res.problems)
        return LoadResult(
            ResourceSet(
                request_authentications=tuple(r for r in resources if isinstance(r, RequestAuthentication)),
                authorization_policies=tuple(r for r in resources if isinstance(r, AuthorizationPolicy)),
                skipped=tuple(res.skipped),
            ),
            tuple(res.problems),
        )


def config_files(directory: str) -> list[str]:
    """Config files under `directory`, sorted per directory; `..data` last so real names win."""
    out: list[str] = []
    visited: set[str] = set()

    def walk(current: str) -> None:
        real = os.path.realpath(current)
        if real in visited:  # symlink loop
            return
        visited.add(real)
        try:
            names = sorted(os.listdir(current))
        except OSError:
            return
        names.sort(key=lambda n: n == CONFIGMAP_DATA_DIR)
        for name in names:
            full = os.path.join(current, name)
            if name.startswith(".") and name != CONFIGMAP_DATA_DIR:
                continue  # hidden entries, incl. kubelet's timestamped `..2026_…` dirs
            if os.path.isdir(full):
                walk(full)
            elif name.endswith(CONFIG_SUFFIXES) and os.path.isfile(full):
                out.append(full)

    walk(directory)
    return out


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
    for path in paths:
        loader.path(path)
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
