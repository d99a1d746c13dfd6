"""istiod's AuthorizationPolicy validation over a decoded spec, message for message.

Source: istio/istio pkg/config/validation/validation.go (ValidateAuthorizationPolicy) and
pkg/config/security/security.go (ValidateAttribute, ValidateIPs, ValidatePorts, CheckEmptyValues,
CheckServiceAccount, CheckValidPathTemplate). Every error is prefixed `invalid policy <name>.<ns>:`
(multierror.Prefix) by the Reporter; warnings are not. Where istiod folds several errors into one
(a multierror inside `invalid value for key`), each becomes its own problem on its own line.
"""

from __future__ import annotations

from typing import Any

from meshgate.config.model import Action
from meshgate.config.report import Reporter
from meshgate.config.schema import OPERATION_FIELDS, SOURCE_FIELDS, Path
from meshgate.config.validation.attrs import (
    check_empty,
    check_path_templates,
    check_service_accounts,
    check_trust_domains,
    validate_attribute,
    validate_ips,
    validate_ports,
)
from meshgate.config.validation.common import too_many, validate_selector_and_refs

MAX_RULES = 512  # CRD maxItems of rules and of from
_RULES: Path = ("spec", "rules")
NO_RULES = (
    "{} action without `rules` is meaningless as it will never be triggered, "
    "add an empty rule `{{}}` if you want it be triggered for every request"
)
DENY_HTTP_ONLY = (
    "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of "
    "only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port"
)
# From fields a CUSTOM policy cannot use (validation.go; trustDomains per docs/istio-semantics.md §6)
_CUSTOM_FROM = ("namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "trustDomains",
                "notTrustDomains", "principals", "notPrincipals", "requestPrincipals",
                "notRequestPrincipals")  # fmt: skip
_CUSTOM_KEYS = ("source.namespace", "source.serviceAccount", "source.principal", "source.trustDomain")
# Source fields whose presence makes a rule meaningful for TCP (validation.go tcpRulesInFrom)
_TCP_FROM = ("principals", "notPrincipals", "ipBlocks", "notIpBlocks", "namespaces", "notNamespaces",
             "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts")  # fmt: skip
_IP_FIELDS = ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks")


def go_field(json_name: str) -> str:
    """The Go struct field name istiod prints (`notIpBlocks` → `NotIpBlocks`)."""
    return json_name[0].upper() + json_name[1:]


def validate_authorization_policy(rep: Reporter, spec: dict[str, Any], action: Action | None) -> None:
    """istiod's checks; `action` None (not in the CRD enum, already reported) skips those it decides."""
    validate_selector_and_refs(rep, spec)
    rules: list[dict[str, Any] | None] | None = spec.get("rules")
    too_many(rep, ("spec", "rules"), rules, MAX_RULES)
    if action is Action.CUSTOM:
        _validate_custom(rep, spec, rules)
    if "provider" in spec and action is not None and action is not Action.CUSTOM:
        rep.invalid(
            ("spec", "provider"), f"`provider` must not be with non CUSTOM action, found {action.value}"
        )
    if action is Action.DENY and rules is None:
        rep.invalid(("spec", "action"), NO_RULES.format("DENY"), about=[_RULES])
    for i, rule in enumerate(rules or ()):
        path: Path = ("spec", "rules", i)
        if rule is None:
            rep.invalid(path, f"`rule` must not be nil, found at rule {i}")
            continue
        from_exists, tcp_from = _validate_from(rep, path, i, rule.get("from"))
        to_exists, tcp_to = _validate_to(rep, path, i, rule.get("to"))
        _validate_when(rep, path, rule.get("when"))
        http_only = (from_exists and not to_exists and not tcp_from) or (to_exists and not tcp_to)
        if http_only and action is Action.DENY:
            rep.warn(path, DENY_HTTP_ONLY)


def _validate_custom(rep: Reporter, spec: dict[str, Any], rules: list[dict[str, Any] | None] | None) -> None:
    if rules is None:
        rep.invalid(("spec", "action"), NO_RULES.format("CUSTOM"), about=[_RULES])
    elif not (spec.get("provider") or {}).get("name"):
        rep.invalid(("spec", "provider"), "`provider.name` must not be empty")
    for i, rule in enumerate(rules or ()):
        for j, entry in enumerate((rule or {}).get("from") or ()):
            source = (entry or {}).get("source") or {}
            for name in _CUSTOM_FROM:
                if source.get(name):
                    at: Path = ("spec", "rules", i, "from", j, "source", name)
                    rep.invalid(at, f"From.{go_field(name)} is currently not supported with CUSTOM action")
        for k, cond in enumerate((rule or {}).get("when") or ()):
            where: Path = ("spec", "rules", i, "when", k)
            if cond is None:
                rep.invalid(where, "when field cannot be nil")
                continue
            key = cond.get("key", "")
            if key in _CUSTOM_KEYS or key.startswith("request.auth."):
                rep.invalid((*where, "key"), f"{key} is currently not supported with CUSTOM action")


def _validate_from(rep: Reporter, path: Path, i: int, entries: list[Any] | None) -> tuple[bool, bool]:
    """Returns (a `from.source` exists, a TCP-meaningful source field is set)."""
    if entries is not None and not entries:
        rep.invalid((*path, "from"), f"`from` must not be empty, found at rule {i}")
    too_many(rep, (*path, "from"), entries, MAX_RULES)
    exists = tcp = False
    for j, entry in enumerate(entries or ()):
        where = (*path, "from", j)
        if entry is None:
            rep.invalid(where, f"`from` must not be nil, found at rule {i}")
            continue
        source = entry.get("source")
        if source is None:
            rep.invalid(where, f"`from.source` must not be nil, found at rule {i}")
            continue
        exists = True
        _validate_source(rep, (*where, "source"), i, source)
        tcp = tcp or any(name in source for name in _TCP_FROM)
    return exists, tcp


def _validate_source(rep: Reporter, path: Path, i: int, src: dict[str, Any]) -> None:
    def count(*names: str) -> int:
        return sum(len(src.get(name) or ()) for name in names)

    if count("principals", "notPrincipals", "namespaces", "notNamespaces") and count(
        "serviceAccounts", "notServiceAccounts"
    ):
        msg = f"cannot set serviceAccounts with namespaces or principals, found at rule {i}"
        rep.invalid(path, msg, about=())  # fires on what is present: a refused field cannot cause it
    if not count(*SOURCE_FIELDS):
        rep.invalid(path, f"`from.source` must not be empty, found at rule {i}")
    for name in _IP_FIELDS:
        for index, message in validate_ips(src.get(name) or []):
            rep.invalid((*path, name, index), message)
    for name in SOURCE_FIELDS:
        values = src.get(name) or []
        if name in ("serviceAccounts", "notServiceAccounts"):
            found = check_service_accounts(go_field(name), values)
        elif name in ("trustDomains", "notTrustDomains"):
            found = check_trust_domains(go_field(name), values)
        else:
            found = check_empty(go_field(name), values)
        if found is not None:
            rep.invalid(_at((*path, name), found[0]), found[1])


def _validate_to(rep: Reporter, path: Path, i: int, entries: list[Any] | None) -> tuple[bool, bool]:
    """Returns (a `to.operation` exists, ports or notPorts are set)."""
    if entries is not None and not entries:
        rep.invalid((*path, "to"), f"`to` must not be empty, found at rule {i}")
    exists = tcp = False
    for j, entry in enumerate(entries or ()):
        where = (*path, "to", j)
        if entry is None:
            rep.invalid(where, f"`to` must not be nil, found at rule {i}")
            continue
        op = entry.get("operation")
        if op is None:
            rep.invalid(where, f"`to.operation` must not be nil, found at rule {i}")
            continue
        exists = True
        where += ("operation",)
        if not any(op.get(name) for name in OPERATION_FIELDS):
            rep.invalid(where, f"`to.operation` must not be empty, found at rule {i}")
        for name in ("ports", "notPorts"):
            for index, message in validate_ports(op.get(name) or []):
                rep.invalid((*where, name, index), message)
        for name in OPERATION_FIELDS:
            found = check_empty(go_field(name), op.get(name) or [])
            if found is not None:
                rep.invalid(_at((*where, name), found[0]), found[1])
        for name in ("paths", "notPaths"):
            found = check_path_templates(go_field(name), op.get(name) or [])
            if found is not None:
                rep.invalid(_at((*where, name), found[0]), found[1])
        tcp = tcp or "ports" in op or "notPorts" in op
    return exists, tcp


def _validate_when(rep: Reporter, path: Path, conditions: list[Any] | None) -> None:
    for k, cond in enumerate(conditions or ()):
        where = (*path, "when", k)
        key = (cond or {}).get("key", "")
        if not key:
            rep.invalid(where, "`key` must not be empty")
            continue
        values, not_values = cond.get("values") or [], cond.get("notValues") or []
        if not values and not not_values:
            msg = f"at least one of `values` or `notValues` must be set for key {key}"
            rep.invalid((*where, "key"), msg, about=[where])
            continue
        for field, label, items in (("values", "value", values), ("notValues", "notValue", not_values)):
            for index, message in validate_attribute(key, items):
                at = (*where, field, index) if index >= 0 else (*where, "key")
                rep.invalid(at, f"invalid `{label}` for `key` {key}: {message}")


def _at(path: Path, index: int) -> Path:
    """The item's path, or the list's own when the problem is about the whole list (index -1)."""
    return (*path, index) if index >= 0 else path
