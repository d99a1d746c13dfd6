"""Authorization: the workload's AuthorizationPolicies decided the way Istio's Envoy filters do.

Order (docs/istio-semantics.md §5.1; istio/istio:pilot/pkg/security/authz/builder/builder.go): CUSTOM (its
shadow RBAC filter runs before jwt_authn, so it never sees `request.auth.*`) → AUDIT (logs only) →
DENY → ALLOW (no enforced ALLOW policy → allow). Dry-run policies are shadow rules: evaluated and
reported, never enforced; an engine whose every policy is dry-run does not exist. A CUSTOM match only
asks the front to consult the provider (`custom_provider`): the engine does no I/O.
Everything is compiled in the constructor (compile.py); `authorize` only calls predicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from meshgate.authz.compile import (
    EXT_AUTHZ_PREFIX,
    RbacEngine,
    bad_custom_engine,
    compile_engine,
    custom_provider_problem,
)
from meshgate.authz.conditions import REQUEST_HEADERS
from meshgate.authz.request import AuthzRequest
from meshgate.authz.result import AuthzResult, AuthzTrace
from meshgate.config.model import Action, AuthorizationPolicy

ALLOWED = "allowed"
DENIED = "denied"


class Authorizer:
    """Compiles the workload's policies once; `authorize` is then pure and allocation-light."""

    def __init__(self, policies: Sequence[AuthorizationPolicy], custom_providers: frozenset[str]) -> None:
        def group(action: Action, dry_run: bool) -> list[AuthorizationPolicy]:
            return [p for p in policies if p.action is action and p.dry_run is dry_run]

        custom_all = [p for p in policies if p.action is Action.CUSTOM]
        # CUSTOM rules are generated with the DENY action (builder.go BuildHTTP), so DENY error handling.
        custom = compile_engine(group(Action.CUSTOM, False), Action.DENY, EXT_AUTHZ_PREFIX)
        self.custom_problem = custom_provider_problem(custom_all, custom_providers)
        self._bad_custom = bad_custom_engine(custom) if self.custom_problem else RbacEngine()
        self._custom = RbacEngine() if self.custom_problem else custom
        self._custom_provider = custom_all[0].provider if custom_all and not self.custom_problem else None
        self._audit = compile_engine(group(Action.AUDIT, False), Action.AUDIT)
        self._deny = compile_engine(group(Action.DENY, False), Action.DENY)
        self._allow = compile_engine(group(Action.ALLOW, False), Action.ALLOW)
        self._shadow_audit = compile_engine(group(Action.AUDIT, True), Action.AUDIT)
        self._shadow_deny = compile_engine(group(Action.DENY, True), Action.DENY)
        self._shadow_allow = compile_engine(group(Action.ALLOW, True), Action.ALLOW)
        self._check_custom = bool(self._bad_custom.rules or self._custom.rules)
        self._dry_run = self._shadow_audit.present or self._shadow_deny.present or self._shadow_allow.present
        # Whether any rule reads `request.headers[...]`: if none does, the engine skips building the
        # jwt_authn-edited header view (authn/header_edits.py) for this workload.
        self.reads_headers = any(
            c.key.startswith(REQUEST_HEADERS) for p in policies for r in p.rules or () for c in r.when or ()
        )

    def authorize(self, req: AuthzRequest) -> AuthzResult:
        provider: str | None = None
        if self._check_custom:
            before_jwt = req if req.identity is None else replace(req, identity=None)
            hit = self._bad_custom.first_match(before_jwt)
            if hit is not None:
                reason = f"denied by a CUSTOM rule whose provider cannot be used ({self.custom_problem})"
                trace = AuthzTrace(outcome=DENIED, reason=reason, policy_id=hit, action="CUSTOM")
                return AuthzResult(allowed=False, custom_provider=None, trace=trace, custom_denied=True)
            if self._custom.first_match(before_jwt) is not None:
                provider = self._custom_provider
        audit = self._audit.all_matches(req) if self._audit.rules else ()
        dry_run = self._dry_run
        shadow = (
            self._shadow(self._shadow_audit, "AUDIT", req) + self._shadow(self._shadow_deny, "DENY", req)
            if dry_run
            else ()
        )
        seen = (audit, shadow, provider)
        hit = self._deny.first_match(req)
        if hit is not None:
            return _verdict(False, f"denied by DENY policy {hit}", hit, "DENY", *seen)
        if dry_run:
            seen = (audit, shadow + self._shadow(self._shadow_allow, "ALLOW", req), provider)
        if not self._allow.present:
            return _verdict(True, "no ALLOW policy applies: allowed", None, "", *seen)
        hit = self._allow.first_match(req)
        if hit is None:
            return _verdict(False, "no ALLOW policy matched", None, "ALLOW", *seen)
        return _verdict(True, f"allowed by ALLOW policy {hit}", hit, "ALLOW", *seen)

    @staticmethod
    def _shadow(engine: RbacEngine, action: str, req: AuthzRequest) -> tuple[str, ...]:
        """Dry-run results, with their effect spelled out (`would deny` / `would allow` / `would audit`)."""
        if not engine.present:
            return ()
        if action == "AUDIT":
            return tuple(
                f"dry-run AUDIT would audit: matched policy {hit}" for hit in engine.all_matches(req)
            )
        hit = engine.first_match(req)
        if action == "DENY":
            return () if hit is None else (f"dry-run DENY would deny: matched policy {hit}",)
        if hit is None:
            return ("dry-run ALLOW would deny: no dry-run ALLOW policy matched",)
        return (f"dry-run ALLOW would allow: matched policy {hit}",)


def _verdict(
    allowed: bool,
    reason: str,
    policy_id: str | None,
    action: str,
    audit: tuple[str, ...],
    shadow: tuple[str, ...],
    provider: str | None,
) -> AuthzResult:
    """The result of the enforced engines, with what the audit and dry-run ones saw. Built positionally, in
    the fields' order: one is built per request, and a keyword call costs twice the construction."""
    trace = AuthzTrace(ALLOWED if allowed else DENIED, reason, policy_id, action, audit, shadow, provider)
    return AuthzResult(allowed, provider, trace)
