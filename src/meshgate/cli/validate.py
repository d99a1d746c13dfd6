"""`meshgate validate -c PATH...`: print every problem as `file:line: message`, then a summary.

Exit status: 0 when there is no error (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from meshgate.config.load import load_paths
from meshgate.errors import EXIT_FAILED, EXIT_OK

HELP = "validate Istio resources like istiod; exit 0 when valid"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", action="append", required=True, metavar="PATH")


def run(args: argparse.Namespace) -> int:
    return run_validate(args.config, sys.stdout)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def run_validate(paths: Sequence[str], out: TextIO) -> int:
    result = load_paths(paths)
    for problem in result.problems:
        out.write(f"{problem}\n")
    for note in result.resources.skipped:
        out.write(f"{note}\n")
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    if errors:
        out.write(_plural(errors, "problem") + "\n")
        return EXIT_FAILED
    res = result.resources
    counts = [
        (len(res.request_authentications), "RequestAuthentication"),
        (len(res.authorization_policies), "AuthorizationPolicy"),
    ]
    networking = [(len(res.gateways), "Gateway"), (len(res.virtual_services), "VirtualService"),
                  (len(res.service_entries), "ServiceEntry"), (len(res.secrets), "Secret")]  # fmt: skip
    counts += [(n, kind) for n, kind in networking if n]  # listed when present (docs/routing.md)
    kinds = ", ".join(f"{n} {kind}" for n, kind in counts)
    summary = f"{_plural(sum(n for n, _ in counts), 'resource')} valid ({kinds})"
    if result.resources.skipped:
        summary += f", {len(result.resources.skipped)} skipped"
    if warnings:
        summary += ", " + _plural(warnings, "warning")
    out.write(summary + "\n")
    return EXIT_OK
