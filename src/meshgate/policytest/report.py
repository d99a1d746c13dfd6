"""pytest-like text: a line per failing case (what differed, the decision and its trace), then a summary."""

from __future__ import annotations

from collections.abc import Sequence

from meshgate.engine.explain import format_decision
from meshgate.policytest.run import CaseResult

INDENT = "    "


def failure_details(result: CaseResult) -> list[str]:
    """What differed, then the decision and its trace as `meshgate check` prints them, then notes."""
    lines = list(result.failures)
    lines += format_decision(result.decision, result.jwks).splitlines()
    lines += [f"note: {note}" for note in result.notes]
    return lines


def format_results(results: Sequence[CaseResult], deselected: int, verbose: bool) -> str:
    out: list[str] = []
    if verbose:
        for r in results:
            out.append(f"{'PASSED' if r.passed else 'FAILED'} {r.case.where}: {r.case.name}")
            if r.passed:
                out += [f"{INDENT}note: {n}" for n in r.notes]
    failed = [r for r in results if not r.passed]
    for r in failed:
        if out:
            out.append("")
        out.append(f"FAILED {r.case.where}: {r.case.name}")
        out += [INDENT + line for line in failure_details(r)]
    if out:
        out.append("")
    out.append(summary(len(results) - len(failed), len(failed), deselected))
    return "\n".join(out) + "\n"


def summary(passed: int, failed: int, deselected: int) -> str:
    text = f"{passed} passed, {failed} failed"
    return text + (f", {deselected} deselected" if deselected else "")
