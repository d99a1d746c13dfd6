"""What istiod sends Envoy for a set of Istio security resources: jwt_authn and RBAC filter configs.

Built from meshgate's own parsed resources (`meshgate.config.model`), so a parity test loads one YAML
text and gives the very same policies to Envoy and to meshgate. Mirrors (read, not copied):
- `istio/istio:pilot/pkg/security/authn/policy_applier.go` convertToEnvoyJwtConfig: rules sorted by issuer,
  providers `origins-<i>`, `payload_in_metadata: payload`, `forward = forwardOriginalToken`, space-delimited
  claims, inline `local_jwks`, the `requires_any` requirement on prefix `/`, `bypass_cors_preflight`;
- `istio/istio:pilot/pkg/security/authz/model/{model.go,generator.go,permission.go,principal.go}`: one RBAC
  policy `ns[NS]-policy[NAME]-rule[i]` per rule, permissions = one `and_rules` per `to`, principals = one
  `and_ids` per `from`; `requestPrincipals` as metadata matchers on the jwt_authn payload's iss and sub;
- `istio/istio:pilot/pkg/security/authz/builder/builder.go`: DENY filter before ALLOW.

Only the fields parity tests use so far are translated (request principals, paths, methods, `when` on
request headers); anything else raises NotImplementedError instead of producing a config that silently
differs from istiod's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from meshgate.config.model import Action, AuthorizationPolicy, JwtRule, Operation, Rule, Source

Config = dict[str, Any]
JWT_FILTER = "envoy.filters.http.jwt_authn"  # istio/istio:pilot/pkg/xds/filters/filters.go
PAYLOAD_KEY = "payload"  # filters.EnvoyJwtFilterPayload
_TYPE = "type.googleapis.com/envoy.extensions.filters.http."
_DEFAULT_SPACE_DELIMITED = ("permission", "scope")


def _keys(rule: JwtRule, jwks_clusters: Mapping[str, str]) -> Config:
    """Inline `jwks` → local_jwks; `jwksUri` → remote_jwks through the named cluster (5 s timeout and a
    5 minute cache unless the rule says otherwise, as policy_applier.go builds it for a mesh cluster)."""
    if rule.jwks:
        return {"local_jwks": {"inline_string": rule.jwks}}
    if rule.jwks_uri not in jwks_clusters:
        raise NotImplementedError(f"no cluster given for jwksUri {rule.jwks_uri}")
    http_uri = {
        "uri": rule.jwks_uri,
        "cluster": jwks_clusters[rule.jwks_uri],
        "timeout": f"{rule.timeout_s}s",
    }
    return {"remote_jwks": {"http_uri": http_uri, "cache_duration": "300s"}}


def _provider(rule: JwtRule, jwks_clusters: Mapping[str, str]) -> Config:
    provider: Config = {
        "issuer": rule.issuer,
        **_keys(rule, jwks_clusters),
        "payload_in_metadata": PAYLOAD_KEY,
        "normalize_payload_in_metadata": {
            "space_delimited_claims": sorted({*rule.space_delimited_claims, *_DEFAULT_SPACE_DELIMITED})
        },
    }
    if rule.audiences:
        provider["audiences"] = list(rule.audiences)
    if rule.forward_original_token:
        provider["forward"] = True
    if rule.output_payload_to_header:
        provider["forward_payload_header"] = rule.output_payload_to_header
    if rule.output_claim_to_headers:
        provider["claim_to_headers"] = [
            {"header_name": c.header, "claim_name": c.claim} for c in rule.output_claim_to_headers
        ]
    if rule.from_headers:
        provider["from_headers"] = [{"name": h.name, "value_prefix": h.prefix} for h in rule.from_headers]
    if rule.from_params:
        provider["from_params"] = list(rule.from_params)
    if rule.from_cookies:
        provider["from_cookies"] = list(rule.from_cookies)
    return provider


def jwt_authn_filter(rules: Sequence[JwtRule], jwks_clusters: Mapping[str, str] | None = None) -> Config:
    """The jwt_authn HTTP filter istiod builds for these rules (all of one workload); `jwks_clusters` maps
    each remote `jwksUri` to the Envoy cluster that serves it."""
    ordered = sorted(rules, key=lambda r: r.issuer)
    names = [f"origins-{i}" for i in range(len(ordered))]
    optional = [
        {"requires_any": {"requirements": [{"provider_name": n}, {"allow_missing": {}}]}} for n in names
    ]
    if len(names) == 1:
        requires = optional[0]
    else:
        outer = [{"provider_name": n} for n in names] + [{"requires_all": {"requirements": optional}}]
        requires = {"requires_any": {"requirements": outer}}
    return {
        "name": JWT_FILTER,
        "typed_config": {
            "@type": _TYPE + "jwt_authn.v3.JwtAuthentication",
            "providers": {n: _provider(r, jwks_clusters or {}) for n, r in zip(names, ordered, strict=True)},
            "rules": [{"match": {"prefix": "/"}, "requires": requires}],
            "bypass_cors_preflight": True,
        },
    }


def _claim(claim: str, match: Config) -> Config:
    return {
        "metadata": {
            "filter": JWT_FILTER,
            "path": [{"key": PAYLOAD_KEY}, {"key": claim}],
            "value": {"string_match": match},
        }
    }


_ANY = {"safe_regex": {"regex": ".+"}}


def _split_principal(value: str) -> tuple[Config, Config]:
    """generator.go requestPrincipalGenerator: (iss matcher, sub matcher), split at the last `/`."""
    idx = value.rfind("/")
    iss, sub = (value[:idx], value[idx + 1 :]) if idx >= 0 else (value, "")
    if value == "*":
        return _ANY, _ANY
    if value.startswith("*"):
        if idx < 0:
            return _ANY, {"suffix": value[1:]}
        return (_ANY if iss == "*" else {"suffix": iss[1:]}), {"exact": sub}
    if value.endswith("*"):
        if idx < 0:
            return {"prefix": value[:-1]}, _ANY
        return {"exact": iss}, (_ANY if sub == "*" else {"prefix": sub[:-1]})
    return {"exact": iss}, {"exact": sub}


def _request_principals(values: Sequence[str]) -> Config:
    ors = []
    for value in values:
        iss, sub = _split_principal(value)
        ors.append({"and_ids": {"ids": [_claim("iss", iss), _claim("sub", sub)]}})
    return ors[0] if len(ors) == 1 else {"or_ids": {"ids": ors}}


def _header_value(name: str, value: str) -> Config:
    """matcher.HeaderMatcher: `*` present, `*x` suffix, `x*` prefix, else exact."""
    if value == "*":
        return {"header": {"name": name, "present_match": True}}
    if value.startswith("*"):
        return {"header": {"name": name, "string_match": {"suffix": value[1:]}}}
    if value.endswith("*"):
        return {"header": {"name": name, "string_match": {"prefix": value[:-1]}}}
    return {"header": {"name": name, "string_match": {"exact": value}}}


def _conditions(rule: Rule) -> list[Config]:
    """model.go New: `when` keys become principal rules appended after the source's (request headers only)."""
    ids: list[Config] = []
    for cond in rule.when or ():
        inner = cond.key.removeprefix("request.headers")
        if inner == cond.key or not (inner.startswith("[") and inner.endswith("]")):
            raise NotImplementedError(f"`when` key {cond.key}")
        name = inner[1:-1]
        for values, negate in ((cond.values, False), (cond.not_values, True)):
            if values:
                ors: Config = {"or_ids": {"ids": [_header_value(name, v) for v in values]}}
                ids.append({"not_id": ors} if negate else ors)
    return ids


def _principal(source: Source | None, conditions: list[Config]) -> Config:
    if source is None:
        return {"and_ids": {"ids": conditions or [{"any": True}]}}
    known = {"request_principals", "not_request_principals"}
    if any(getattr(source, f.name) is not None for f in dataclasses.fields(source) if f.name not in known):
        raise NotImplementedError(f"source fields beyond request principals: {source}")
    ids: list[Config] = []
    if source.request_principals:
        ids.append(_request_principals(source.request_principals))
    if source.not_request_principals:
        ids.append({"not_id": _request_principals(source.not_request_principals)})
    ids += conditions
    return {"and_ids": {"ids": ids or [{"any": True}]}}


def _path(value: str) -> Config:
    """matcher.PathMatcher: `*` any, `x*` prefix, `*x` suffix, else exact."""
    if value == "*":
        match: Config = {"safe_regex": {"regex": ".+"}}
    elif value.endswith("*"):
        match = {"prefix": value[:-1]}
    elif value.startswith("*"):
        match = {"suffix": value[1:]}
    else:
        match = {"exact": value}
    return {"url_path": {"path": match}}


def _method(value: str) -> Config:
    return {"header": {"name": ":method", "string_match": {"exact": value}}}


def _permission(op: Operation) -> Config:
    """model.go: methods, then paths (insertFront order reversed), each an OR; `not*` as not_rule(OR)."""
    if any(getattr(op, f) is not None for f in ("hosts", "not_hosts", "ports", "not_ports")):
        raise NotImplementedError(f"operation fields beyond paths and methods: {op}")
    rules: list[Config] = []
    for values, not_values, build in ((op.methods, op.not_methods, _method), (op.paths, op.not_paths, _path)):
        if values:
            rules.append({"or_rules": {"rules": [build(v) for v in values]}})
        if not_values:
            rules.append({"not_rule": {"or_rules": {"rules": [build(v) for v in not_values]}}})
    return {"and_rules": {"rules": rules or [{"any": True}]}}


def _rbac_policy(rule: Rule) -> Config:
    conditions = _conditions(rule)
    any_permission = [{"and_rules": {"rules": [{"any": True}]}}]
    return {
        "permissions": [_permission(o) for o in rule.to] if rule.to else any_permission,
        "principals": [_principal(s, conditions) for s in rule.from_]
        if rule.from_
        else [_principal(None, conditions)],
    }


def rbac_filters(policies: Sequence[AuthorizationPolicy]) -> list[Config]:
    """The RBAC filters istiod builds: DENY first, then ALLOW (each present only when a policy has it)."""
    filters = []
    for action in (Action.DENY, Action.ALLOW):
        chosen = [p for p in policies if p.action is action and not p.dry_run]
        if not chosen:
            continue
        rbac: Config = {}
        for policy in chosen:
            if not policy.rules:
                raise NotImplementedError("a policy without rules")
            for i, rule in enumerate(policy.rules):
                rbac[f"ns[{policy.namespace}]-policy[{policy.name}]-rule[{i}]"] = _rbac_policy(rule)
        filters.append(
            {
                "name": "envoy.filters.http.rbac",
                "typed_config": {
                    "@type": _TYPE + "rbac.v3.RBAC",
                    "rules": {"action": action.value, "policies": rbac},
                },
            }
        )
    if any(p.action not in (Action.DENY, Action.ALLOW) for p in policies):
        raise NotImplementedError("AUDIT and CUSTOM policies")
    return filters
