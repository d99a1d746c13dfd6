"""Run `meshgate test` through the CLI entry point and capture what it printed."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

from meshgate.cli.main import main


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def meshgate_test(*args: str | Path) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = main(["test", *map(str, args)])
    finally:
        sys.stdout, sys.stderr = saved
    return Outcome(code, out.getvalue(), err.getvalue())
