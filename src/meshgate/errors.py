"""Configuration and usage errors. Request outcomes are never exceptions (see engine/status.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem, reported as `file:line: message` like a compiler would."""

    file: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}: {kind}{self.message}"


class MeshgateError(Exception):
    """Base of every error meshgate raises on purpose."""


class UsageError(MeshgateError):
    """Bad command-line usage (exit code 2)."""


class ConfigError(MeshgateError):
    """A configuration that cannot be loaded; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
