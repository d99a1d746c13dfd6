"""examples/seed/tests.yaml passes offline; a changed expectation fails, names the
case, exits 1, and the JUnit report counts the failure (structure checked with xml.etree)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests.policytest.helpers import meshgate_test
from tests.support.seed import seed_tree

from meshgate.config.load import load_paths

CASES = (
    "no token is denied by require-jwt",
    "a token of another issuer is refused by jwt_authn",
    "Istio's demo.jwt is allowed, and the upstream never sees the token",
)


def test_the_seed_tests_pass_offline(tmp_path: Path) -> None:
    seed = seed_tree(tmp_path)
    result = meshgate_test(seed / "tests.yaml", "--offline", "-v")
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-1] == "3 passed, 0 failed"
    for name in CASES:
        assert f"PASSED {seed / 'tests.yaml'}:" in result.out and name in result.out


def test_the_test_file_sits_beside_the_policies(tmp_path: Path) -> None:
    """`-c examples/seed` (serve, check) loads the directory: tests.yaml is skipped as a non-Istio kind."""
    seed = seed_tree(tmp_path)
    loaded = load_paths([str(seed)])
    assert loaded.ok, loaded.problems
    assert [s.split(": ")[-1] for s in loaded.resources.skipped] == ["skipped PolicyTest (meshgate/v1)"]
    assert len(loaded.resources.request_authentications) == len(loaded.resources.authorization_policies) == 1


# (what the mutation changes, the case it breaks, the line `meshgate test` must print)
MUTATIONS = [
    ("status: 403,", "status: 404,", CASES[0], "status: expected 404, got 403"),
    ("body: Jwt issuer is not configured,", "body: Jwt is expired,", CASES[1],
     "body: expected 'Jwt is expired', got 'Jwt issuer is not configured'"),
    ("upstream_headers: {authorization: null}", "upstream_headers: {authorization: x}", CASES[2],
     "upstream_headers[authorization]: expected 'x', got absent"),
    ("policy: default/require-jwt", "policy: default/other", CASES[2],
     "policy: expected 'default/other', got default/require-jwt (ns[default]-policy[require-jwt]-rule[0])"),
    ("upstream_path: /productpage", "upstream_path: /", CASES[2], "upstream_path: expected '/', got '/productpage'"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "case", "line"), MUTATIONS, ids=[m[1] for m in MUTATIONS])
def test_a_changed_expectation_fails_names_the_case_and_counts_in_junit(
    tmp_path: Path, old: str, new: str, case: str, line: str
) -> None:
    seed = seed_tree(tmp_path)
    tests = seed / "tests.yaml"
    text = tests.read_text()
    assert old in text
    tests.write_text(text.replace(old, new))
    report = tmp_path / "junit.xml"
    result = meshgate_test(tests, "--offline", "--junit-xml", report)
    assert result.code == 1, result.out + result.err
    assert f"FAILED {tests}:" in result.out and f": {case}\n    {line}\n" in result.out
    assert "    trace: authz " in result.out  # the decision's trace follows what differed
    assert result.out.splitlines()[-1] == "2 passed, 1 failed"
    check_junit(ET.parse(report).getroot(), str(tests), failed=case, message=line)


def check_junit(root: ET.Element, file: str, *, failed: str, message: str) -> None:
    """The de-facto JUnit schema: testsuites > testsuite > testcase (> failure), counts consistent."""
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    [suite] = list(root)
    assert suite.tag == "testsuite" and suite.get("name") == file
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "3",
        "1",
        "0",
        "0",
    )
    cases = list(suite)
    assert [c.tag for c in cases] == ["testcase"] * 3
    assert [c.get("name") for c in cases] == list(CASES)
    assert all(float(c.get("time", "x")) >= 0 and c.get("classname") for c in cases)
    [failing] = [c for c in cases if len(c)]
    assert failing.get("name") == failed and failing.get("file") == file
    [failure] = list(failing)
    assert failure.tag == "failure" and failure.get("message") == message
    assert failure.text is not None and "trace: authn" in failure.text
