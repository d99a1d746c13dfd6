"""What a case can send and expect, pinned one behaviour per row on a small policy set of its own.

The policies use Istio's sample key set through a `file://` jwksUri (read even under --offline); tokens are
minted per case with Istio's sample key.pem (in that key set) or with keys that are not.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from tests.policytest.helpers import meshgate_test
from tests.support.samples import SAMPLES

from meshgate.jose.mint import generate_key

ISTIO_KID = "DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ"
POLICIES = """\
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: api, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: api}}}}
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: file://{jwks}
    outputClaimToHeaders: [{{header: x-sub, claim: sub}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: deny-debug, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: api}}}}
  action: DENY
  rules: [{{to: [{{operation: {{paths: ["/debug*"]}}}}]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: orders, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: api}}}}
  rules:
  - from: [{{source: {{requestPrincipals: ["*"]}}}}]
    to: [{{operation: {{methods: [GET]}}}}]
  - to: [{{operation: {{methods: [DELETE]}}}}]
    when: [{{key: "request.auth.claims[groups]", values: [admin]}}]
"""
ISTIO_KEY = f"{{key: {SAMPLES}/key.pem, claims: {{iss: testing@secure.istio.io, sub: alice"
ADMIN = ISTIO_KEY + ", groups: [admin]}}"
USER = ISTIO_KEY + "}}"

# (id, the case's request and expect as YAML, passes?, a line the output must hold)
CASES = [
    ("admin may DELETE; policy by its RBAC id; claim header set, token removed",
     f"request: {{method: DELETE, path: /orders, token: {ADMIN}}}\n"
     "expect: {status: 200, policy: 'ns[shop]-policy[orders]-rule[1]', reason: null,\n"
     "         upstream_headers: {x-sub: alice, authorization: null}}", True, ""),
    ("a user without the admin group may no longer DELETE /orders",
     f"request: {{method: DELETE, path: /orders, token: {USER}}}\n"
     "expect: {status: 403, body: 'RBAC: access denied', policy: null}", True, ""),
    ("the token placed in the query string with $TOKEN",
     f"request: {{path: '/orders?access_token=$TOKEN', token: {USER}}}\nexpect: {{status: 200}}", True, ""),
    ("the token placed in a header with $TOKEN, not in authorization",
     f"request: {{headers: {{x-other: 'Bearer $TOKEN'}}, token: {USER}}}\nexpect: {{status: 403}}", True, ""),
    ("a DENY policy names itself by namespace/name",
     f"request: {{path: /debug/vars, token: {USER}}}\nexpect: {{status: 403, policy: shop/deny-debug}}", True, ""),
    ("an expired token: the failing JWT check and Envoy's www-authenticate",
     f"request: {{path: /orders, token: {{key: {SAMPLES}/key.pem, expires_in: -120, claims: {{iss: "
     "testing@secure.istio.io}}}\nexpect: {status: 401, reason: Jwt is expired, headers: {www-authenticate: "
     "'Bearer realm=\"http://localhost/orders\", error=\"invalid_token\"'}}", True, ""),
    ("a literal token and a repeated header",
     f"request: {{token: '{(SAMPLES / 'demo.jwt').read_text().strip()}', headers: {{x-a: [1, 2]}}}}\n"
     "expect: {status: 200, upstream_headers: {x-a: '1,2'}}", True, ""),
    ("per-case workload: another app has no policy",
     "workload: {namespace: shop, labels: {app: web}}\nexpect: {status: 200, allowed: true, policy: null}",
     True, ""),
    ("a failing expectation on a reason",
     f"request: {{token: {USER}}}\nexpect: {{reason: Jwt is expired}}", False,
     "reason: expected 'Jwt is expired', got no failing JWT check"),
    ("a failing expectation on allowed",
     "expect: {allowed: true}", False, "allowed: expected true, got false"),
]  # fmt: skip


def write_tests(tmp_path: Path, cases: str, extra_top: str = "") -> Path:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "shop.yaml").write_text(POLICIES.format(jwks=SAMPLES / "jwks.json"))
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        f"config: [policies]\nworkload: {{namespace: shop, labels: {{app: api}}}}\n{extra_top}cases:\n{cases}"
    )
    return tests


def as_case(name: str, body: str) -> str:
    return f"- name: {name}\n" + textwrap.indent(body, "  ") + "\n"


@pytest.mark.parametrize(("body", "passes", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_case_table(tmp_path: Path, body: str, passes: bool, line: str) -> None:
    tests = write_tests(tmp_path, as_case("the case", body))
    result = meshgate_test(tests, "--offline")
    assert result.code == (0 if passes else 1), result.out + result.err
    assert line in result.out
    assert result.out.splitlines()[-1] == ("1 passed, 0 failed" if passes else "0 passed, 1 failed")


def _stranger(tmp_path: Path) -> Path:
    pem, _ = generate_key("RS256")
    key = tmp_path / "stranger.pem"
    key.write_bytes(pem)
    return key


# (id, the signing key (None: Istio's key.pem), kid given, is the "not in any JWKS" note expected?)
KEYS = [
    ("Istio's key is in the key set", None, None, False),
    ("a stranger's key", "stranger", None, True),
    ("a stranger's key claiming Istio's kid: key material is compared, not kid", "stranger", ISTIO_KID, True),
]


@pytest.mark.parametrize(("key", "kid", "noted"), [k[1:] for k in KEYS], ids=[k[0] for k in KEYS])
def test_a_signing_key_outside_every_jwks_is_named(
    tmp_path: Path, key: str | None, kid: str | None, noted: bool
) -> None:
    pem = _stranger(tmp_path) if key else SAMPLES / "key.pem"
    kid_text = f", kid: {kid}" if kid else ""
    body = f"request: {{token: {{key: {pem}{kid_text}, claims: {{iss: testing@secure.istio.io}}}}}}\n"
    tests = write_tests(tmp_path, as_case("signed", body + "expect: {status: 999}"))
    result = meshgate_test(tests, "--offline")
    assert result.code == 1
    note = f"note: the public half of {pem} is in no JWKS of the config (compared key material, not kid)"
    assert (note in result.out) is noted, result.out
    assert ("got 401" in result.out) is noted  # Envoy: `Jwt verification fails` / kid not found


def test_k_selects_cases_and_counts_the_rest_deselected(tmp_path: Path) -> None:
    cases = "".join(as_case(name, "expect: {status: 403}") for name in ("deny one", "Deny two", "other"))
    result = meshgate_test(write_tests(tmp_path, cases), "-k", "deny")
    assert result.code == 0 and result.out.splitlines()[-1] == "2 passed, 0 failed, 1 deselected"


def test_config_from_the_command_line(tmp_path: Path) -> None:
    tests = write_tests(tmp_path, as_case("no token", "expect: {status: 403}"))
    tests.write_text(tests.read_text().replace("config: [policies]\n", ""))
    assert meshgate_test(tests).code == 2
    assert meshgate_test(tests, "-c", tmp_path / "policies").code == 0
