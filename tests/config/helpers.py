"""Wrap a spec snippet in a resource envelope: the snippet's first line is line 7 of the document."""

from __future__ import annotations

import textwrap

from meshgate.config.load import load_text

SPEC_FIRST_LINE = 7


def document(kind: str, spec: str, name: str = "p", namespace: str = "foo") -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    head = f"apiVersion: security.istio.io/v1\nkind: {kind}\n"
    head += f"metadata:\n  name: {name}\n  namespace: {namespace}\n"
    return f"{head}spec:\n{body}\n"


def problems(kind: str, spec: str) -> list[tuple[int, str, bool]]:
    """(line, message, is_warning) of every problem, in report order."""
    result = load_text(document(kind, spec), "t.yaml")
    return [(p.line, p.message, p.warning) for p in result.problems]
