"""Every problem of every resource, each at its own line (README "The CLI": `meshgate validate`).

`kubectl apply --validate=strict` refuses unknown fields, wrong types and values outside the CRD's enum;
istiod's validating webhook (istio/istio pkg/config/validation/validation.go) adds the semantic errors.
meshgate reports both kinds together, in file order, and a check that would only fire because the schema
dropped a field stays silent (one typo, one problem). `serve`, `check` and `authz-server` print at startup
(exit 2) the same list of errors that `validate` prints (exit 1); warnings alone never stop them.

Mutations caught: stopping after the first schema problem (the issue's `ALLOWED` + `pathz` case lost
line 7), skipping istiod's checks once decoding failed, cascading "must not be empty" errors after a
refused field, printing fewer problems (or only the first) at startup.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.config.helpers import problems

from meshgate.config.load import load_text

DATA = Path(__file__).parent / "data"
MANY = DATA / "many-problems.yaml"
P = "invalid policy many.foo: "

# tests/config/data/many-problems.yaml: an AuthorizationPolicy with a bad enum, a wrong type, unknown
# fields and istiod errors, then a RequestAuthentication with the same mix.
MANY_EXPECTED = [
    (8, 'invalid value for spec.action: "ALLOWED" (expected one of ALLOW, DENY, AUDIT, CUSTOM)'),
    (11, P + 'wildcard is not supported in selector: "app=web*"'),
    (15, "invalid type for spec.rules[0].to[0].operation.methods: expected array, got string"),
    (16, 'unknown field "pathz" in Operation'),
    (17, P + "bad port (99999): <nil>"),
    (19, P + "cannot set serviceAccounts with namespaces or principals, found at rule 0"),
    (
        20,
        P + 'bad CIDR range (1.2.3.4/99): netip.ParsePrefix("1.2.3.4/99"): prefix length out of range',
    ),
    # the refused `values` does not also give "at least one of `values` or `notValues` must be set"
    (25, "invalid type for spec.rules[0].when[0].values: expected array, got string"),
    (27, P + "invalid `value` for `key` source.ip: bad IP address (not-an-ip)"),
    # the refused field does not also give "`from.source` must not be empty"
    (30, 'unknown field "requestPrincipal" in Source'),
    (37, 'unknown field "labelz" in ObjectMeta'),
    (41, "invalid type for spec.jwtRules[0].audiences: expected array, got string"),
    (42, "url must have scheme http:// or https://"),
    (44, "location header name must be non-empty string"),
    (46, "header name bad header is not a valid header name"),
    (48, "invalid type for spec.jwtRules[0].forwardOriginalToken: expected boolean, got string"),
    (49, 'unknown field "issuers" in JWTRule'),
    (50, "issuer or jwksUri must be non-empty string"),
    (50, "location query must be non-empty string"),
    (51, "only durations to ms precision are supported"),
]
MANY_PRINTED = [f"{MANY}:{line}: {message}" for line, message in MANY_EXPECTED]


def test_every_problem_of_every_resource_at_its_line() -> None:
    result = load_text(MANY.read_text(), str(MANY))
    assert [str(p) for p in result.problems] == MANY_PRINTED
    assert result.resources.request_authentications == ()
    assert result.resources.authorization_policies == ()


def test_the_issues_example_reports_both_lines() -> None:
    text = (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n"
        "  namespace: default\nspec:\n  action: ALLOWED\n  rules:\n  - to:\n    - operation:\n"
        '        methods: ["GET"]\n        pathz: ["/x"]\n'
    )
    assert [str(p) for p in load_text(text, "p.yaml").problems] == [
        'p.yaml:7: invalid value for spec.action: "ALLOWED" (expected one of ALLOW, DENY, AUDIT, CUSTOM)',
        'p.yaml:12: unknown field "pathz" in Operation',
    ]


AP_ROWS = [
    pytest.param(
        "action: DENY\nrules: all",
        [(8, "invalid type for spec.rules: expected array, got string", False)],
        id="refused rules: no 'DENY action without rules' on top",
    ),
    pytest.param(
        "action: CUSTOMM\nprovider: {name: ext}\nrules: [{}]",
        [(7, 'invalid value for spec.action: "CUSTOMM" (expected one of ALLOW, DENY, AUDIT, CUSTOM)', False)],
        id="bad action: no 'provider must not be with non CUSTOM action' guessed from it",
    ),
    pytest.param(
        "action: 3\nrules: [{}]",
        [(7, "invalid type for spec.action: expected string, got integer", False)],
        id="mistyped action: one problem, not also an enum error",
    ),
    pytest.param(
        "targetRef: {knd: Service, name: web}",
        [(7, 'unknown field "knd" in PolicyTargetReference', False)],
        id="refused targetRef field: no 'targetRef must be to one of' on top",
    ),
    pytest.param(
        "selector: {matchLabel: {app: web}}",
        [(7, 'unknown field "matchLabel" in WorkloadSelector', False)],
        id="refused selector field: no 'selector without labels' warning on top",
    ),
    pytest.param(
        "selector: {matchLabels: {app: web}}\ntargetRef: {kind: Service, name: web, grp: x}",
        [
            (8, 'unknown field "grp" in PolicyTargetReference', False),  # one line: schema first
            (8, "invalid policy p.foo: only one of targetRefs or workloadSelector can be set", False),
        ],
        id="a check that fires on what is present still reports beside a refused field",
    ),
    pytest.param(
        "rules:\n- to:\n  - operation: {methods: [GET], notPaths: 5}\n  when:\n  - key: request.headers[x]",
        [
            (
                9,
                "invalid type for spec.rules[0].to[0].operation.notPaths: expected array, got integer",
                False,
            ),
            (
                11,
                "invalid policy p.foo: at least one of `values` or `notValues` must be set for key "
                "request.headers[x]",
                False,
            ),
        ],
        id="a sibling's refused field silences nothing else",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), AP_ROWS)
def test_schema_and_istiod_problems_together(spec: str, expected: list[tuple[int, str, bool]]) -> None:
    assert problems("AuthorizationPolicy", spec) == expected


def test_a_resource_without_name_still_has_its_spec_checked() -> None:
    text = (
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata:\n  namespace: foo\n"
        "spec:\n  jwtRules:\n  - audiences: [a]\n    fromParams: ['']\n"
    )
    assert [str(p) for p in load_text(text, "r.yaml").problems] == [
        'r.yaml:3: missing required field "metadata.name"',
        "r.yaml:7: issuer or jwksUri must be non-empty string",
        "r.yaml:8: location query must be non-empty string",
    ]


def _meshgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshgate", *args], capture_output=True, text=True, timeout=60
    )


def test_validate_prints_every_problem_and_exits_1() -> None:
    proc = _meshgate("validate", "-c", str(MANY))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [*MANY_PRINTED, f"{len(MANY_PRINTED)} problems"]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["check"], id="check"),
        pytest.param(["serve", "--listen", "127.0.0.1:0", "--admin", ""], id="serve"),
        pytest.param(
            ["authz-server", "--grpc", "", "--http", "127.0.0.1:0", "--admin", ""], id="authz-server"
        ),
    ],
)
def test_startup_prints_the_same_full_list_and_exits_2(command: list[str]) -> None:
    proc = _meshgate(*command, "-c", str(MANY))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == MANY_PRINTED
    assert "Traceback" not in proc.stderr
