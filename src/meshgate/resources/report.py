"""Collects problems for one resource, each placed at the line of the field it is about.

Paths name fields by their canonical JSON names (`("spec", "rules", 0, "from")`); a path with no
recorded line (a field that is missing) falls back to its nearest enclosing field or mapping.
"""

from __future__ import annotations

from meshgate.errors import Problem
from meshgate.resources.schema import Path


class Reporter:
    """Problems of one document. `prefix` is istiod's `invalid policy <name>.<ns>:` for policies."""

    def __init__(self, file: str, lines: dict[Path, int], default_line: int) -> None:
        self.file = file
        self.lines = lines
        self.default_line = default_line
        self.prefix = ""
        self.problems: list[Problem] = []

    def line(self, path: Path) -> int:
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return self.default_line

    def error(self, path: Path, message: str) -> None:
        """An unprefixed error (decoding, CRD schema, metadata)."""
        self.problems.append(Problem(self.file, self.line(path), message))

    def invalid(self, path: Path, message: str) -> None:
        """An istiod validation error, with the policy prefix when there is one."""
        text = f"{self.prefix} {message}" if self.prefix else message
        self.problems.append(Problem(self.file, self.line(path), text))

    def warn(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.file, self.line(path), message, warning=True))

    @property
    def has_errors(self) -> bool:
        return any(not p.warning for p in self.problems)
