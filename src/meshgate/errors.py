"""Configuration and usage errors, and what every command's exit status means.

Request outcomes are never exceptions: they are decisions (engine/decision.py).
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0  # valid, allowed, every case passed, stopped on request
EXIT_FAILED = 1  # invalid (validate), denied (check), a case failed (test), a worker died (serve)
EXIT_USAGE = 2  # bad usage, or a configuration, key set or test file that cannot be loaded


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


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a resource came from, for `file:line` messages and `/config_dump`."""

    file: str = "<memory>"
    line: int = 1


class MeshgateError(Exception):
    """Base of every error meshgate raises on purpose."""


class UsageError(MeshgateError):
    """Bad command-line usage (exit code 2)."""


class ConfigError(MeshgateError):
    """A configuration that cannot be loaded; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
