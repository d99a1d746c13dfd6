"""Read a test file into `PolicyTestFile`, reporting every problem at its `file:line`.

Paths inside a file (config, jwks files, keys, token files) are relative to the file. The optional
`apiVersion: meshgate/v1` + `kind: PolicyTest` envelope lets a test file sit beside the policies it
tests: the policy loader skips kinds that are not Istio's, as kubectl users expect.
"""

from __future__ import annotations

import os

from meshgate.config.model import DEFAULT_ROOT_NAMESPACE, Workload
from meshgate.config.yamlnodes import SyntaxProblem, YMap, YNode, YSeq, compose_documents, type_name
from meshgate.errors import Problem
from meshgate.policytest.model import Case, Expectation, PolicyTestFile
from meshgate.policytest.nodes import Reader
from meshgate.policytest.requests import read_request

API_VERSION = "meshgate/v1"
KIND = "PolicyTest"
FILE_FIELDS = frozenset({"apiVersion", "kind", "config", "workload", "jwks", "cases"})
CASE_FIELDS = frozenset({"name", "request", "expect", "workload"})
WORKLOAD_FIELDS = frozenset({"namespace", "labels", "root_namespace"})
EXPECT_SCALARS = {"status": "integer", "body": "text", "allowed": "boolean", "policy": "optional",
                  "reason": "optional", "upstream_path": "optional"}  # fmt: skip
EXPECT_MAPS = ("headers", "upstream_headers")
EXPECT_FIELDS = frozenset((*EXPECT_SCALARS, *EXPECT_MAPS))


def load_test_file(path: str) -> tuple[PolicyTestFile | None, list[Problem]]:
    """The file's cases, or None with the problems (a file with any problem runs no case)."""
    reader = Reader(path)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reader.problem(1, f"cannot read test file: {getattr(exc, 'strerror', None) or exc}")
        return None, reader.problems
    docs = list(compose_documents(text))
    for doc in docs:
        if isinstance(doc, SyntaxProblem):
            reader.problem(doc.line, doc.message)
    nodes = [d for d in docs if not isinstance(d, SyntaxProblem)]
    if reader.problems:
        return None, reader.problems
    if len(nodes) != 1:
        reader.problem(1, f"a test file holds one YAML document, found {len(nodes)}")
        return None, reader.problems
    result = _file(reader, nodes[0], os.path.dirname(path))
    return (result if not reader.problems else None), reader.problems


def _file(r: Reader, node: YNode, base: str) -> PolicyTestFile | None:
    top = r.mapping(node, "test file", FILE_FIELDS)
    if top is None:
        return None
    _envelope(r, top)
    config: list[str] = []
    entry = top.get("config")
    if entry is not None:
        config = [_resolve(base, p) for p in r.texts(entry.value, "config") or []]
    workload = Workload()
    entry = top.get("workload")
    if entry is not None:
        workload = _workload(r, entry.value, workload) or workload
    jwks, jwks_lines = _jwks(r, top, base)
    cases = _cases(r, top, base, workload)
    return PolicyTestFile(r.file, tuple(config), jwks, tuple(cases), jwks_lines)


def _envelope(r: Reader, top: YMap) -> None:
    for field, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        entry = top.get(field)
        if entry is not None and r.text(entry.value, field) not in (None, wanted):
            r.problem(entry.key_line, f"{field}: expected {wanted!r} (or leave it out)")


def _resolve(base: str, path: str) -> str:
    return os.path.normpath(os.path.join(base, path)) if base else path


def _workload(r: Reader, node: YNode, default: Workload) -> Workload | None:
    m = r.mapping(node, "workload", WORKLOAD_FIELDS)
    if m is None:
        return None
    namespace, labels, root = default.namespace, dict(default.labels), default.root_namespace
    if (e := m.get("namespace")) is not None:
        namespace = r.text(e.value, "workload.namespace") or namespace
    if (e := m.get("labels")) is not None:
        labels = r.string_map(e.value, "workload.labels") or {}
    if (e := m.get("root_namespace")) is not None:
        root = r.text(e.value, "workload.root_namespace") or DEFAULT_ROOT_NAMESPACE
    return Workload(namespace, labels, root)


def _jwks(r: Reader, top: YMap, base: str) -> tuple[dict[str, str], dict[str, int]]:
    entry = top.get("jwks")
    if entry is None:
        return {}, {}
    if not isinstance(entry.value, YMap):
        r.problem(
            entry.value.line,
            f"jwks: expected a mapping of jwksUri to a JWKS file, got {type_name(entry.value)}",
        )
        return {}, {}
    files: dict[str, str] = {}
    lines: dict[str, int] = {}
    for item in entry.value.entries:
        path = r.text(item.value, f"jwks[{item.key}]")
        if path is not None:
            files[item.key] = _resolve(base, path)
            lines[item.key] = item.key_line
    return files, lines


def _cases(r: Reader, top: YMap, base: str, workload: Workload) -> list[Case]:
    entry = top.get("cases")
    if entry is None or not isinstance(entry.value, YSeq) or not entry.value.items:
        line = top.line if entry is None else entry.value.line
        r.problem(line, "cases: expected a non-empty list of cases")
        return []
    cases = [_case(r, item, base, workload) for item in entry.value.items]
    seen: dict[str, int] = {}
    for case in filter(None, cases):
        if case.name in seen:
            r.problem(case.line, f"case name {case.name!r} already used at line {seen[case.name]}")
        seen.setdefault(case.name, case.line)
    return [c for c in cases if c is not None]


def _case(r: Reader, node: YNode, base: str, workload: Workload) -> Case | None:
    m = r.mapping(node, "case", CASE_FIELDS)
    if m is None:
        return None
    name_entry = m.get("name")
    name = r.text(name_entry.value, "name") if name_entry is not None else None
    if name_entry is None:
        r.problem(m.line, "case: `name` is required")
    if (e := m.get("workload")) is not None:
        workload = _workload(r, e.value, workload) or workload
    request = read_request(r, m.get("request"), base)
    expect_entry = m.get("expect")
    if expect_entry is None:
        r.problem(m.line, "case: `expect` is required (status, body, allowed, policy, reason, ...)")
        return None
    expect = _expect(r, expect_entry.value)
    if name is None or request is None or expect is None:
        return None
    return Case(name, r.file, m.line, request, workload, tuple(expect))


def _expect(r: Reader, node: YNode) -> list[Expectation] | None:
    m = r.mapping(node, "expect", EXPECT_FIELDS)
    if m is None:
        return None
    if not m.entries:
        r.problem(m.line, "expect: name at least one of " + ", ".join(sorted(EXPECT_FIELDS)))
        return None
    out: list[Expectation] = []
    for entry in m.entries:
        what = f"expect.{entry.key}"
        if entry.key in EXPECT_MAPS:
            out.extend(_header_expectations(r, entry.key, entry.value))
            continue
        kind = EXPECT_SCALARS.get(entry.key)
        if kind is None:
            continue  # an unknown field, already reported
        ok, value = _scalar(r, kind, entry.value, what)
        if ok:
            out.append(Expectation(entry.key, value, entry.key_line))
    return out


def _scalar(r: Reader, kind: str, node: YNode, what: str) -> tuple[bool, object]:
    if kind == "optional":
        return r.optional_text(node, what)
    read = {"integer": r.integer, "boolean": r.boolean, "text": r.text}[kind]
    value = read(node, what)
    return value is not None, value


def _header_expectations(r: Reader, field: str, node: YNode) -> list[Expectation]:
    if not isinstance(node, YMap):
        r.problem(node.line, f"expect.{field}: expected a mapping of header name to value (null: absent)")
        return []
    out = []
    for entry in node.entries:
        ok, value = r.optional_text(entry.value, f"expect.{field}.{entry.key}")
        if ok:
            out.append(Expectation(field, value, entry.key_line, entry.key.lower()))
    return out
