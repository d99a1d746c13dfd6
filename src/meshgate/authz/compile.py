"""AuthorizationPolicies → named, prebuilt rule predicates grouped by action (docs/istio-semantics.md §5).

Follows istio/istio:pilot/pkg/security/authz/model/model.go (a rule = OR over `to` permissions AND OR
over `from` principals, `when` conditions joining their side; within a field OR of values, `not*` =
NOT(OR)) and builder/builder.go (names `ns[NS]-policy[NAME]-rule[i]`, no rules → one never-matching
rule `-rule[0]`, dry-run policies into shadow rules, CUSTOM compiled with DENY error semantics and
named with the `istio-ext-authz-` prefix). Envoy keeps an engine's policies in a std::map, so rules
are kept sorted by name: the first match in that order is the reported policy id.

CUSTOM provider problems (unknown name, or several names for one workload without istiod's
PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS) turn every enforced CUSTOM rule into a DENY rule named
`<rule name>-deny-due-to-bad-CUSTOM-action` (builder.go getBadCustomDenyRules in the Istio releases
that replaced the older `default-deny-all-due-to-bad-CUSTOM-action` deny-all policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from meshgate.authz.conditions import UnknownKey, always, field_predicate, never, when_side
from meshgate.authz.match import Unparsable
from meshgate.authz.request import AuthzRequest, Predicate
from meshgate.config.model import Action, AuthorizationPolicy, Operation, Rule, Source

EXT_AUTHZ_PREFIX = "istio-ext-authz-"  # builder/extauthz.go extAuthzMatchPrefix + "-"
BAD_CUSTOM_SUFFIX = "-deny-due-to-bad-CUSTOM-action"

_SOURCE_FIELDS = (
    ("principals", "principals", "not_principals"),
    ("requestPrincipals", "request_principals", "not_request_principals"),
    ("namespaces", "namespaces", "not_namespaces"),
    ("serviceAccounts", "service_accounts", "not_service_accounts"),
    ("ipBlocks", "ip_blocks", "not_ip_blocks"),
    ("remoteIpBlocks", "remote_ip_blocks", "not_remote_ip_blocks"),
    ("trustDomains", "trust_domains", "not_trust_domains"),
)
_OPERATION_FIELDS = (
    ("hosts", "hosts", "not_hosts"),
    ("methods", "methods", "not_methods"),
    ("paths", "paths", "not_paths"),
    ("ports", "ports", "not_ports"),
)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    policy_id: str
    matches: Predicate


@dataclass(frozen=True, slots=True)
class RbacEngine:
    """One Envoy RBAC engine: `present` even when none of its rules can match (allow-nothing)."""

    rules: tuple[CompiledRule, ...] = ()
    present: bool = False

    def first_match(self, request: AuthzRequest) -> str | None:
        for rule in self.rules:
            if rule.matches(request):
                return rule.policy_id
        return None

    def all_matches(self, request: AuthzRequest) -> tuple[str, ...]:
        return tuple(r.policy_id for r in self.rules if r.matches(request))


def policy_id(policy: AuthorizationPolicy, index: int) -> str:
    """builder.go policyName: `ns[<namespace>]-policy[<name>]-rule[<index>]`."""
    return f"ns[{policy.namespace}]-policy[{policy.name}]-rule[{index}]"


def compile_engine(policies: Iterable[AuthorizationPolicy], action: Action, prefix: str = "") -> RbacEngine:
    """builder.go build(): every rule named and compiled; dropped rules leave the engine present."""
    compiled: dict[str, Predicate] = {}
    present = False
    for policy in policies:
        present = True
        if not policy.rules:
            continue  # rbacPolicyMatchNever: present, never matches
        for index, rule in enumerate(policy.rules):
            predicate = compile_rule(rule, action)
            name = prefix + policy_id(policy, index)
            if predicate is not None:
                compiled[name] = predicate  # a protobuf map: a later same-named rule replaces it
    rules = tuple(CompiledRule(n, p) for n, p in sorted(compiled.items()) if p is not never)
    return RbacEngine(rules, present)


def compile_rule(rule: Rule, action: Action) -> Predicate | None:
    """model.go New + Generate; None = rule skipped (unknown key, or unparsable value under ALLOW)."""
    strict = action is Action.ALLOW
    try:
        base: dict[str, list[Predicate]] = {"permission": [], "principal": []}
        for condition in rule.when or ():
            side = when_side(condition.key)
            base[side].extend(_field(condition.key, condition.values, condition.not_values, strict))
        principals = [_source(s, strict) + base["principal"] for s in rule.from_ or ()]
        permissions = [_operation(o, strict) + base["permission"] for o in rule.to or ()]
    except (UnknownKey, Unparsable):
        return None
    principal = _any_of([_all_of(p) for p in principals or [base["principal"]]])
    permission = _any_of([_all_of(p) for p in permissions or [base["permission"]]])
    return _all_of([permission, principal])


def _source(source: Source, strict: bool) -> list[Predicate]:
    return _fields(source, _SOURCE_FIELDS, strict)


def _operation(operation: Operation, strict: bool) -> list[Predicate]:
    return _fields(operation, _OPERATION_FIELDS, strict)


def _fields(obj: Source | Operation, spec: tuple[tuple[str, str, str], ...], strict: bool) -> list[Predicate]:
    predicates: list[Predicate] = []
    for kind, attr, not_attr in spec:
        predicates.extend(_field(kind, getattr(obj, attr), getattr(obj, not_attr), strict))
    return predicates


def _field(
    kind: str, values: Sequence[str] | None, not_values: Sequence[str] | None, strict: bool
) -> list[Predicate]:
    """One field: OR of values, AND NOT(OR of notValues); a part whose values all failed is dropped.

    `broad` matching (conditions.py) wherever a match leads toward a denial: values of a non-ALLOW
    rule, notValues of an ALLOW rule.
    """
    predicates: list[Predicate] = []
    if values:
        positive = field_predicate(kind, values, strict, broad=not strict)
        if positive is not None:
            predicates.append(positive)
    if not_values:
        negative = field_predicate(kind, not_values, strict, broad=strict)
        if negative is not None:
            predicates.append(_not(negative))
    return predicates


def _not(predicate: Predicate) -> Predicate:
    if predicate is never:
        return always
    if predicate is always:
        return never
    return lambda r: not predicate(r)


def _all_of(predicates: list[Predicate]) -> Predicate:
    kept = [p for p in predicates if p is not always]
    if any(p is never for p in kept):
        return never
    if not kept:
        return always
    if len(kept) == 1:
        return kept[0]
    frozen = tuple(kept)
    return lambda r: all(p(r) for p in frozen)


def _any_of(predicates: list[Predicate]) -> Predicate:
    kept = [p for p in predicates if p is not never]
    if any(p is always for p in kept):
        return always
    if not kept:
        return never
    if len(kept) == 1:
        return kept[0]
    frozen = tuple(kept)
    return lambda r: any(p(r) for p in frozen)


def custom_provider_problem(policies: Sequence[AuthorizationPolicy], known: frozenset[str]) -> str | None:
    """extauthz.go getExtAuthz: why the workload's CUSTOM policies cannot reach a provider, or None."""
    names = [p.provider or "" for p in policies]
    if len(set(names)) > 1:
        return f"only 1 provider can be used per workload, found multiple providers: {sorted(set(names))}"
    if names and names[0] not in known:
        return f"available providers are {sorted(known)} but found {names[0]!r}"
    return None


def bad_custom_engine(custom: RbacEngine) -> RbacEngine:
    """Every enforced CUSTOM rule as a DENY rule, renamed with the bad-CUSTOM suffix."""
    rules = tuple(CompiledRule(r.policy_id + BAD_CUSTOM_SUFFIX, r.matches) for r in custom.rules)
    return RbacEngine(rules, custom.present)
