"""Exit 2 with `file:line: message` for a bad test file, config, key set or usage; no case is decided then."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.policytest.helpers import meshgate_test
from tests.support.seed import SAMPLES, SEED_JWKS_URI, seed_tree

HEAD = f"""config: [.]
workload: {{namespace: default, labels: {{app: frontend}}}}
jwks: {{"{SEED_JWKS_URI}": {SAMPLES}/jwks.json}}
"""
CASE = "cases:\n- name: c\n  expect: {status: 403}\n"

# (id, test file text, the line the problem is at, words of the message)
BAD_FILES = [
    ("unknown top field", HEAD + "casez: []\n" + CASE, 4, "unknown field 'casez'"),
    ("no cases", HEAD, 1, "cases: expected a non-empty list"),
    ("empty cases", HEAD + "cases: []\n", 4, "cases: expected a non-empty list"),
    ("unknown expect field", HEAD + "cases:\n- name: c\n  expect: {statuz: 403}\n", 6, "unknown field 'statuz'"),
    ("status not an integer", HEAD + "cases:\n- name: c\n  expect: {status: forbidden}\n", 6,
     "expect.status: expected an integer, got string"),
    ("allowed not a boolean", HEAD + "cases:\n- name: c\n  expect: {allowed: 1}\n", 6, "expected true or false"),
    ("expect empty", HEAD + "cases:\n- name: c\n  expect: {}\n", 6, "expect: name at least one of"),
    ("no expect", HEAD + "cases:\n- name: c\n", 5, "`expect` is required"),
    ("no name", HEAD + "cases:\n- expect: {status: 403}\n", 5, "`name` is required"),
    ("same name twice", HEAD + CASE + "- name: c\n  expect: {status: 200}\n", 7, "already used at line 5"),
    ("token with two sources", HEAD + "cases:\n- name: c\n  request:\n    token: {file: a, new_key: ES256}\n"
     "  expect: {status: 403}\n", 7, "exactly one of file"),
    ("token file missing", HEAD + "cases:\n- name: c\n  request:\n    token: {file: nowhere.jwt}\n"
     "  expect: {status: 403}\n", 7, "request.token.file: no such file"),
    ("new_key alg unknown", HEAD + "cases:\n- name: c\n  request:\n    token: {new_key: RS999}\n"
     "  expect: {status: 403}\n", 7, "request.token.new_key: one of RS256"),
    ("claims on a file token", HEAD + "cases:\n- name: c\n  request:\n    token:\n      file: "
     f"{SAMPLES}/demo.jwt\n      claims: {{sub: x}}\n  expect: {{status: 403}}\n", 9, "only for a minted token"),
    ("unknown request field", HEAD + "cases:\n- name: c\n  request: {paht: /}\n  expect: {status: 403}\n", 6,
     "request: unknown field 'paht'"),
    ("bad scheme", HEAD + "cases:\n- name: c\n  request: {scheme: ftp}\n  expect: {status: 403}\n", 6,
     "request.scheme: http or https"),
    ("wrong kind", "kind: Deployment\n" + HEAD + CASE, 1, "kind: expected 'PolicyTest'"),
    ("syntax error", HEAD + "cases: [\n", 5, "malformed YAML/JSON"),
    ("two documents", HEAD + CASE + "---\n" + HEAD + CASE, 1, "one YAML document, found 2"),
    ("no config", CASE, 1, "no policies to test"),
]  # fmt: skip


def drop_jwks_map(tests: Path) -> None:
    lines = tests.read_text().splitlines()
    tests.write_text(
        "\n".join(x for x in lines if SEED_JWKS_URI not in x and not x.startswith("jwks:")) + "\n"
    )


@pytest.mark.parametrize(("text", "line", "words"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_a_bad_test_file_exits_2_at_its_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    seed = seed_tree(tmp_path)
    tests = seed / "bad.yaml"
    tests.write_text(text)
    result = meshgate_test(tests)
    assert result.code == 2, result.out + result.err
    assert f"{tests}:{line}: " in result.err and words in result.err, result.err
    assert result.out == "" and "Traceback" not in result.err


def test_a_bad_policy_exits_2_at_the_policy_line(tmp_path: Path) -> None:
    seed = seed_tree(tmp_path)
    policy = seed / "authorization-policy.yaml"
    policy.write_text(policy.read_text().replace("action: ALLOW", "action: ALLOWED"))
    result = meshgate_test(seed / "tests.yaml")
    assert result.code == 2
    assert f"{policy}:10: " in result.err and "no case run" in result.err


def test_offline_without_a_local_key_set_exits_2_naming_the_uri_and_the_fix(tmp_path: Path) -> None:
    seed = seed_tree(tmp_path)
    tests = seed / "tests.yaml"
    drop_jwks_map(tests)
    result = meshgate_test(tests, "--offline")
    assert result.code == 2
    assert f"{tests}:1: jwksUri {SEED_JWKS_URI} (RequestAuthentication default/frontend, " in result.err
    assert "--jwks URI=FILE" in result.err


def test_jwks_flag_maps_a_uri_to_a_file(tmp_path: Path) -> None:
    """The `--jwks URI=FILE` flag instead of the file's `jwks:`; mutation: a wrong file fails to verify."""
    seed = seed_tree(tmp_path)
    tests = seed / "tests.yaml"
    drop_jwks_map(tests)
    assert meshgate_test(tests, "--offline", "--jwks", f"{SEED_JWKS_URI}={SAMPLES / 'jwks.json'}").code == 0
    other = tmp_path / "other.json"
    other.write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    failed = meshgate_test(tests, "--offline", "--jwks", f"{SEED_JWKS_URI}={other}")
    assert failed.code == 1 and "got 401" in failed.out


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--jwks", "no-equals-sign"], "--jwks: expected URI=FILE"),
        (["--jwks", "https://x/jwks.json=/no/such/file"], "--jwks: no such file"),
        (["-k", "no case has this in its name"], "selected none of 3 cases"),
    ],
    ids=["jwks without =", "jwks file missing", "-k selects nothing"],
)
def test_bad_usage_exits_2(tmp_path: Path, flags: list[str], words: str) -> None:
    seed = seed_tree(tmp_path)
    result = meshgate_test(seed / "tests.yaml", *flags)
    assert result.code == 2 and words in result.err, result.err


def test_a_missing_test_file_exits_2(tmp_path: Path) -> None:
    result = meshgate_test(tmp_path / "nope.yaml")
    assert result.code == 2 and f"{tmp_path / 'nope.yaml'}:1: cannot read test file" in result.err
