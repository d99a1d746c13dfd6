"""The JUnit XML report CI systems display (GitHub, GitLab, Jenkins read the same de-facto schema):
`<testsuites>` → one `<testsuite>` per test file → one `<testcase>` per case, `<failure>` when it failed.
"""

from __future__ import annotations

import os
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from meshgate.policytest.report import failure_details
from meshgate.policytest.run import CaseResult


def _classname(path: str) -> str:
    """`examples/seed/tests.yaml` → `examples.seed.tests` (how CI groups cases, as pytest names modules)."""
    stem = os.path.splitext(os.path.normpath(path))[0]
    return stem.strip(os.sep).replace(os.sep, ".").lstrip(".") or "tests"


def junit_xml(results: Sequence[CaseResult], started: float) -> bytes:
    by_file: dict[str, list[CaseResult]] = {}
    for r in results:
        by_file.setdefault(r.case.file, []).append(r)
    total_failed = sum(not r.passed for r in results)
    total_time = sum(r.duration_s for r in results)
    root = ET.Element(
        "testsuites",
        name="meshgate test",
        tests=str(len(results)),
        failures=str(total_failed),
        errors="0",
        time=f"{total_time:.6f}",
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started))
    for path, cases in by_file.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=path,
            tests=str(len(cases)),
            failures=str(sum(not r.passed for r in cases)),
            errors="0",
            skipped="0",
            time=f"{sum(r.duration_s for r in cases):.6f}",
            timestamp=stamp,
            hostname=socket.gethostname(),
        )
        for r in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_classname(path),
                name=r.case.name,
                file=path,
                line=str(r.case.line),
                time=f"{r.duration_s:.6f}",
            )
            if not r.passed:
                failure = ET.SubElement(case, "failure", message="; ".join(r.failures), type="AssertionError")
                failure.text = f"{r.case.where}: {r.case.name}\n" + "\n".join(failure_details(r)) + "\n"
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"
