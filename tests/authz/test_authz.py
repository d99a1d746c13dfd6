"""Action precedence, empty cases, policy ids, dry-run, CUSTOM and unparsable values (docs/istio-semantics.md §5).

Sources: istio/istio:pilot/pkg/security/authz/builder/builder.go, extauthz.go, model/model.go; Envoy RBAC
engines keep policies in a std::map (source/extensions/filters/common/rbac/engine_impl.h), hence the
name order of reported ids.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from meshgate.authn.identity import Identity
from meshgate.authz.authorizer import Authorizer
from meshgate.authz.request import AuthzRequest
from meshgate.authz.result import AuthzResult
from meshgate.config.model import Action, AuthorizationPolicy, Condition, Operation, Rule, Source

ALL = Rule()  # `rules: [{}]`
REQ = AuthzRequest(
    method="GET",
    host="example.com",
    path="/admin",
    port=8080,
    headers={},
    source_ip="10.0.0.1",
    remote_ip="10.0.0.1",
    destination_ip="10.0.0.3",
    sni="",
    identity=None,
)
TOKEN = Identity("iss", "sub", {"iss": "iss", "sub": "sub", "groups": ["g1"]})


def policy(
    name: str, action: Action = Action.ALLOW, rules: tuple[Rule, ...] | None = (ALL,), **kw: Any
) -> AuthorizationPolicy:
    return AuthorizationPolicy(name=name, namespace="ns", action=action, rules=rules, **kw)


def paths(*values: str) -> Rule:
    return Rule(to=(Operation(paths=values),))


def decide(
    *policies: AuthorizationPolicy, providers: frozenset[str] = frozenset(), **req: Any
) -> AuthzResult:
    return Authorizer(list(policies), providers).authorize(replace(REQ, **req))


def summary(result: AuthzResult) -> tuple[bool, str | None, str | None]:
    return result.allowed, result.trace.policy_id, result.custom_provider


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        ((), (True, None, None)),
        ((policy("a", Action.DENY),), (False, "ns[ns]-policy[a]-rule[0]", None)),
        ((policy("a", Action.DENY, (paths("/other"),)),), (True, None, None)),
        ((policy("a"),), (True, "ns[ns]-policy[a]-rule[0]", None)),
        ((policy("a", rules=None),), (False, None, None)),  # `spec: {}`: allow-nothing
        ((policy("a", rules=()),), (False, None, None)),
        ((policy("a", rules=(paths("/other"),)),), (False, None, None)),
        ((policy("d", Action.DENY), policy("a")), (False, "ns[ns]-policy[d]-rule[0]", None)),  # DENY first
        (
            (policy("a", rules=None), policy("b")),
            (True, "ns[ns]-policy[b]-rule[0]", None),
        ),  # ALLOWs are OR-ed
        ((policy("au", Action.AUDIT),), (True, None, None)),  # AUDIT never changes the decision
        ((policy("au", Action.AUDIT), policy("a", rules=None)), (False, None, None)),
    ],
    ids=[
        "no policies",
        "DENY matches",
        "DENY misses",
        "ALLOW rules [{}]",
        "ALLOW spec {}",
        "ALLOW rules []",
        "ALLOW misses",
        "DENY before ALLOW",
        "ALLOW OR",
        "AUDIT only",
        "AUDIT with allow-nothing",
    ],
)
def test_precedence_and_empty_cases(
    policies: tuple[AuthorizationPolicy, ...], expected: tuple[bool, str | None, None]
) -> None:
    """§3.3 / §3.4."""
    assert summary(decide(*policies)) == expected


def test_audit_matches_are_reported() -> None:
    result = decide(
        policy("au2", Action.AUDIT), policy("au1", Action.AUDIT), policy("x", Action.AUDIT, (paths("/x"),))
    )
    assert result.trace.audit == ("ns[ns]-policy[au1]-rule[0]", "ns[ns]-policy[au2]-rule[0]")


def test_rule_index_and_name_order() -> None:
    """builder.go policyName; the std::map order reports `rule[10]` before `rule[2]`."""
    rules = tuple(paths("/x") for _ in range(11))
    hits = (*rules[:2], ALL, *rules[3:10], ALL)
    assert decide(policy("p", Action.DENY, hits)).trace.policy_id == "ns[ns]-policy[p]-rule[10]"
    assert decide(policy("p", Action.DENY, (*rules[:2], ALL))).trace.policy_id == "ns[ns]-policy[p]-rule[2]"
    two = decide(policy("b", Action.DENY), policy("a", Action.DENY))
    assert two.trace.policy_id == "ns[ns]-policy[a]-rule[0]"


@pytest.mark.parametrize(
    ("rule", "req", "expected"),
    [
        (Rule(to=(Operation(paths=("/x",)), Operation(paths=("/admin",)))), {}, True),  # some `to`
        (
            Rule(from_=(Source(ip_blocks=("1.2.3.4",)), Source(ip_blocks=("10.0.0.1",)))),
            {},
            True,
        ),  # some `from`
        (
            Rule(to=(Operation(paths=("/admin",)),), from_=(Source(ip_blocks=("1.2.3.4",)),)),
            {},
            False,
        ),  # to AND from
        (
            Rule(when=(Condition("request.headers[a]", ("1",)), Condition("request.headers[b]", ("2",)))),
            {"headers": {"a": ("1",)}},
            False,  # every `when`
        ),
        (
            Rule(when=(Condition("request.headers[a]", ("1",)), Condition("request.headers[b]", ("2",)))),
            {"headers": {"a": ("1",), "b": ("2",)}},
            True,
        ),
        (Rule(to=(Operation(paths=("/x", "/admin")),)), {}, True),  # OR within a field
        (Rule(to=(Operation(not_paths=("/x", "/admin")),)), {}, False),  # not = NOT(OR)
        (Rule(to=(Operation(paths=("/admin",), methods=("POST",)),)), {}, False),  # AND across fields
    ],
    ids=[
        "some to",
        "some from",
        "to AND from",
        "when AND (miss)",
        "when AND (hit)",
        "OR",
        "NOT(OR)",
        "AND fields",
    ],
)
def test_rule_structure(rule: Rule, req: dict[str, Any], expected: bool) -> None:
    """model.go: a rule matches iff some `to` AND some `from` AND every `when`."""
    assert decide(policy("p", rules=(rule,)), **req).allowed is expected


def test_dry_run_deny_is_shadow_only() -> None:
    result = decide(policy("d", Action.DENY, dry_run=True))
    assert summary(result) == (True, None, None)
    assert result.trace.shadow == ("dry-run DENY would deny: matched policy ns[ns]-policy[d]-rule[0]",)


def test_all_allow_dry_run_means_no_allow_engine() -> None:
    """builder.go: no enforced ALLOW policy → no ALLOW filter → not denied by ALLOW."""
    result = decide(policy("a", rules=None, dry_run=True))
    assert result.allowed is True
    assert result.trace.shadow == ("dry-run ALLOW would deny: no dry-run ALLOW policy matched",)


def test_enforced_allow_with_dry_run_allow() -> None:
    result = decide(policy("a", rules=None), policy("b", dry_run=True))
    assert summary(result) == (False, None, None)
    assert result.trace.shadow == ("dry-run ALLOW would allow: matched policy ns[ns]-policy[b]-rule[0]",)


CUSTOM = Action.CUSTOM


@pytest.mark.parametrize(
    ("policies", "providers", "req", "expected"),
    [
        ((policy("c", CUSTOM, (paths("/admin"),), provider="opa"),), {"opa"}, {}, (True, None, "opa")),
        ((policy("c", CUSTOM, (paths("/x"),), provider="opa"),), {"opa"}, {}, (True, None, None)),
        (
            (policy("c", CUSTOM, (paths("/admin"),), provider="nope"),),
            {"opa"},
            {},
            (False, "istio-ext-authz-ns[ns]-policy[c]-rule[0]-deny-due-to-bad-CUSTOM-action", None),
        ),
        ((policy("c", CUSTOM, (paths("/x"),), provider="nope"),), {"opa"}, {}, (True, None, None)),
        (
            (
                policy("c1", CUSTOM, (paths("/admin"),), provider="a"),
                policy("c2", CUSTOM, (paths("/x"),), provider="b"),
            ),
            {"a", "b"},
            {},
            (False, "istio-ext-authz-ns[ns]-policy[c1]-rule[0]-deny-due-to-bad-CUSTOM-action", None),
        ),
        ((policy("c", CUSTOM, provider="opa", dry_run=True),), {"opa"}, {}, (True, None, None)),
        (
            (policy("c", CUSTOM, provider="opa"), policy("d", Action.DENY)),
            {"opa"},
            {},
            (False, "ns[ns]-policy[d]-rule[0]", "opa"),
        ),
        (
            (
                policy(
                    "c",
                    CUSTOM,
                    (Rule(when=(Condition("request.auth.claims[groups]", None, ("g1",)),)),),
                    provider="opa",
                ),
            ),
            {"opa"},
            {"identity": TOKEN},
            (True, None, "opa"),  # CUSTOM runs before jwt_authn: no claims yet
        ),
    ],
    ids=[
        "known provider, match",
        "known provider, no match",
        "unknown provider, match → deny",
        "unknown provider, no match",
        "two providers → deny",
        "dry-run CUSTOM never consults",
        "CUSTOM then DENY",
        "CUSTOM sees no JWT",
    ],
)
def test_custom(
    policies: tuple[AuthorizationPolicy, ...],
    providers: set[str],
    req: dict[str, Any],
    expected: tuple[Any, ...],
) -> None:
    """§3.14; builder.go / extauthz.go."""
    assert summary(decide(*policies, providers=frozenset(providers), **req)) == expected


@pytest.mark.parametrize(
    ("action", "source", "expected_allowed"),
    [
        (Action.ALLOW, Source(ip_blocks=("bad", "10.0.0.0/8")), False),  # ALLOW: whole rule dropped
        (Action.DENY, Source(ip_blocks=("bad",)), False),  # DENY: field dropped, rest still denies
        (Action.DENY, Source(ip_blocks=("bad", "192.168.0.0/16")), True),  # DENY: only the bad value dropped
        (Action.DENY, Source(not_ip_blocks=("bad",)), False),
    ],
    ids=["ALLOW drops rule", "DENY drops field", "DENY drops value", "DENY drops notValues"],
)
def test_unparsable_values(action: Action, source: Source, expected_allowed: bool) -> None:
    """§3.10 (model.go checkError)."""
    rule = Rule(from_=(source,), to=(Operation(paths=("/admin",)),))
    assert decide(policy("p", action, (rule,))).allowed is expected_allowed


@pytest.mark.parametrize(
    ("action", "key", "expected_allowed"),
    [
        (Action.ALLOW, "ports-bad", False),
        (Action.DENY, "unknown.key", True),  # unknown key: rule skipped for every action
        (Action.ALLOW, "unknown.key", False),
        (Action.DENY, "request.headers", False),  # bad map key under DENY: field dropped → denies
        (Action.ALLOW, "request.headers", False),
    ],
)
def test_bad_when_keys(action: Action, key: str, expected_allowed: bool) -> None:
    condition = Condition("destination.port", ("http",)) if key == "ports-bad" else Condition(key, ("x",))
    assert decide(policy("p", action, (Rule(when=(condition,)),))).allowed is expected_allowed


def test_hosts_case_and_port() -> None:
    p = policy("p", rules=(Rule(to=(Operation(hosts=("Example.com", "example.com:*")),)),))
    assert decide(p, host="EXAMPLE.COM").allowed
    assert decide(p, host="example.com:9090").allowed
    assert not decide(p, host="example.org").allowed
