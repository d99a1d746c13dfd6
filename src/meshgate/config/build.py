"""Decoded spec (plain dicts from schema.Decoder) → the frozen model of config/model.py.

Only called for a resource that validated without errors, so required fields are present and
nil list items are gone; JSON field names become the model's snake_case names.
"""

from __future__ import annotations

from typing import Any

from meshgate.config.model import (
    DEFAULT_JWKS_TIMEOUT_S,
    Action,
    AuthorizationPolicy,
    ClaimToHeader,
    Condition,
    JwtHeader,
    JwtRule,
    Operation,
    RequestAuthentication,
    Rule,
    Source,
    SourceRef,
    TargetRef,
)
from meshgate.config.validation.authn import timeout_seconds


def _selector(spec: dict[str, Any]) -> dict[str, str] | None:
    selector = spec.get("selector")
    return None if selector is None else dict(selector.get("matchLabels") or {})


def _target_refs(spec: dict[str, Any]) -> tuple[TargetRef, ...]:
    refs = [spec["targetRef"]] if spec.get("targetRef") is not None else []
    refs += [r for r in spec.get("targetRefs") or () if r is not None]
    return tuple(
        TargetRef(r.get("kind", ""), r.get("name", ""), r.get("group", ""), r.get("namespace", ""))
        for r in refs
    )


def build_request_authentication(
    name: str, namespace: str, spec: dict[str, Any], source: SourceRef, index: int
) -> RequestAuthentication:
    rules = tuple(_jwt_rule(r) for r in spec.get("jwtRules") or () if r is not None)
    return RequestAuthentication(name, namespace, rules, _selector(spec), _target_refs(spec), source, index)


def _jwt_rule(raw: dict[str, Any]) -> JwtRule:
    return JwtRule(
        issuer=raw.get("issuer", ""),
        audiences=tuple(raw.get("audiences") or ()),
        jwks_uri=raw.get("jwksUri", ""),
        jwks=raw.get("jwks", ""),
        from_headers=tuple(
            JwtHeader(h.get("name", ""), h.get("prefix", "")) for h in raw.get("fromHeaders") or ()
        ),
        from_params=tuple(raw.get("fromParams") or ()),
        from_cookies=tuple(raw.get("fromCookies") or ()),
        output_payload_to_header=raw.get("outputPayloadToHeader", ""),
        forward_original_token=raw.get("forwardOriginalToken", False),
        output_claim_to_headers=tuple(
            ClaimToHeader(c["header"], c["claim"]) for c in raw.get("outputClaimToHeaders") or ()
        ),
        timeout_s=timeout_seconds(raw.get("timeout"), DEFAULT_JWKS_TIMEOUT_S),
        space_delimited_claims=tuple(raw.get("spaceDelimitedClaims") or ()),
    )


def _tuples(raw: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """camelCase list fields → snake_case keyword arguments; absent stays absent (None in the model)."""
    out: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        out["".join("_" + c.lower() if c.isupper() else c for c in key)] = tuple(value)
    return out


def build_authorization_policy(
    name: str,
    namespace: str,
    spec: dict[str, Any],
    action: Action,
    dry_run: bool,
    source: SourceRef,
    index: int,
) -> AuthorizationPolicy:
    rules = spec.get("rules")
    provider = spec.get("provider")
    return AuthorizationPolicy(
        name=name,
        namespace=namespace,
        action=action,
        rules=None if rules is None else tuple(_rule(r) for r in rules),
        provider=None if provider is None else provider.get("name", ""),
        selector=_selector(spec),
        target_refs=_target_refs(spec),
        dry_run=dry_run,
        source=source,
        creation_index=index,
    )


def _rule(raw: dict[str, Any]) -> Rule:
    froms, tos, whens = raw.get("from"), raw.get("to"), raw.get("when")
    return Rule(
        from_=None if froms is None else tuple(Source(**_tuples(f["source"])) for f in froms),
        to=None if tos is None else tuple(Operation(**_tuples(t["operation"])) for t in tos),
        when=None
        if whens is None
        else tuple(
            Condition(
                c["key"],
                None if "values" not in c else tuple(c["values"]),
                None if "notValues" not in c else tuple(c["notValues"]),
            )
            for c in whens
        ),
    )
