"""Typed reads of a test file's YAML tree (config/yamlnodes.py), each problem at its `file:line`."""

from __future__ import annotations

from typing import Any

from meshgate.config.yamlnodes import YMap, YNode, YScalar, YSeq, type_name
from meshgate.errors import Problem


class Reader:
    """Collects problems for one file; every accessor returns None (and records why) on a bad value."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def mapping(self, node: YNode, what: str, allowed: frozenset[str]) -> YMap | None:
        """A mapping whose keys are all in `allowed` (an unknown key is a typo until proven otherwise)."""
        if not isinstance(node, YMap):
            self.problem(node.line, f"{what}: expected a mapping, got {type_name(node)}")
            return None
        for entry in (*node.entries, *node.duplicates):
            if entry.key not in allowed:
                known = ", ".join(sorted(allowed))
                self.problem(entry.key_line, f"{what}: unknown field {entry.key!r} (known: {known})")
        for entry in node.duplicates:
            self.problem(entry.key_line, f"{what}: {entry.key!r} given twice")
        for line in node.bad_keys:
            self.problem(line, f"{what}: keys must be strings")
        return node

    def text(self, node: YNode, what: str) -> str | None:
        if isinstance(node, YScalar) and isinstance(node.value, str):
            return node.value
        if (
            isinstance(node, YScalar)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            return str(node.value)  # `path: 42`, a header value `1`: YAML typed it, the request is text
        self.problem(node.line, f"{what}: expected a string, got {type_name(node)}")
        return None

    def integer(self, node: YNode, what: str) -> int | None:
        if isinstance(node, YScalar) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        self.problem(node.line, f"{what}: expected an integer, got {type_name(node)}")
        return None

    def boolean(self, node: YNode, what: str) -> bool | None:
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        self.problem(node.line, f"{what}: expected true or false, got {type_name(node)}")
        return None

    def optional_text(self, node: YNode, what: str) -> tuple[bool, str | None]:
        """(ok, value) where `null` is a valid value (e.g. "this header must be absent")."""
        if isinstance(node, YScalar) and node.value is None:
            return True, None
        value = self.text(node, what)
        return value is not None, value

    def texts(self, node: YNode, what: str) -> list[str] | None:
        """A string, or a list of strings."""
        if isinstance(node, YSeq):
            values = [self.text(item, what) for item in node.items]
            return None if any(v is None for v in values) else [v for v in values if v is not None]
        value = self.text(node, what)
        return None if value is None else [value]

    def string_map(self, node: YNode, what: str) -> dict[str, str] | None:
        if not isinstance(node, YMap):
            self.problem(node.line, f"{what}: expected a mapping, got {type_name(node)}")
            return None
        out: dict[str, str] = {}
        for entry in node.entries:
            value = self.text(entry.value, f"{what}.{entry.key}")
            if value is not None:
                out[entry.key] = value
        return out


def plain(node: YNode) -> Any:
    """The YAML value as plain Python (JWT claims are arbitrary JSON)."""
    if isinstance(node, YMap):
        return {e.key: plain(e.value) for e in node.entries}
    if isinstance(node, YSeq):
        return [plain(item) for item in node.items]
    return node.value
