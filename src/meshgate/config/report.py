"""Collects problems for one resource, each placed at the line of the field it is about.

Paths name fields by their canonical JSON names (`("spec", "rules", 0, "from")`); a path with no
recorded line (a field that is missing) falls back to its nearest enclosing field or mapping.

Every problem of a resource is reported, as `kubectl apply --validate=strict` (schema: unknown fields,
wrong types, enums) and istiod's webhook (semantics) would report them together. A field the schema
refused is dropped from the decoded spec, so a later check could see it as missing: such a check is
*about* that field and stays silent (one typo, one problem). A check names what it is about, by default
the field it is reported at; a check that can only fire on what is present names nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshgate.config.schema import Path
from meshgate.errors import Problem


class Reporter:
    """Problems of one document. `prefix` is istiod's `invalid policy <name>.<ns>:` for policies."""

    def __init__(self, file: str, lines: dict[Path, int], default_line: int) -> None:
        self.file = file
        self.lines = lines
        self.default_line = default_line
        self.prefix = ""
        self.problems: list[Problem] = []
        self.refused: list[Path] = []  # fields the schema refused (unknown, wrong type, bad enum)

    def line(self, path: Path) -> int:
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return self.default_line

    def schema(self, path: Path, message: str) -> None:
        """A strict-decoding / CRD schema error: reported, and the field counts as refused."""
        self.refused.append(path)
        self.problems.append(Problem(self.file, self.line(path), message))

    def error(self, path: Path, message: str, about: Sequence[Path] | None = None) -> None:
        """An unprefixed error (CRD schema constraints, metadata)."""
        if not self._depends_on_refused(path, about):
            self.problems.append(Problem(self.file, self.line(path), message))

    def invalid(self, path: Path, message: str, about: Sequence[Path] | None = None) -> None:
        """An istiod validation error, with the policy prefix when there is one."""
        if not self._depends_on_refused(path, about):
            text = f"{self.prefix} {message}" if self.prefix else message
            self.problems.append(Problem(self.file, self.line(path), text))

    def warn(self, path: Path, message: str, about: Sequence[Path] | None = None) -> None:
        if not self._depends_on_refused(path, about):
            self.problems.append(Problem(self.file, self.line(path), message, warning=True))

    def _depends_on_refused(self, path: Path, about: Sequence[Path] | None) -> bool:
        """True when a refused field lies at or under one of the paths the check is `about`."""
        for base in (path,) if about is None else about:
            if any(refused[: len(base)] == base for refused in self.refused):
                return True
        return False

    @property
    def has_errors(self) -> bool:
        return any(not p.warning for p in self.problems)

    def sorted_problems(self) -> list[Problem]:
        """By line; problems on one line keep the order the checks found them (a stable order)."""
        return sorted(self.problems, key=lambda p: p.line)
