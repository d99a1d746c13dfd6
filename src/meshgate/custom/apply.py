"""The final decision once a CUSTOM provider answered: its denial wins, its allowance adds its edits.

In Istio the ext_authz filter runs before jwt_authn and RBAC (docs/istio-semantics.md §5.9), so a provider's
denial is the answer whatever the engine said; when it allows, the engine's decision stands plus the
provider's upstream edits, the engine's winning a conflict (jwt_authn edits the request after ext_authz).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from meshgate.authn.result import AuthnTrace
from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.custom.providers import CustomProviders, check
from meshgate.custom.verdict import ProviderVerdict
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.decision import Decision, Trace, UpstreamEdits, rbac_denied


async def apply_custom(
    decision: Decision, attrs: RequestAttributes, providers: Mapping[str, ExtAuthzProvider]
) -> Decision:
    """`decision` once the CUSTOM provider it names (`decision.custom_provider`) has answered."""
    name = decision.custom_provider
    if name is None:
        return decision
    authz = dataclasses.replace(decision.trace.authz, custom_provider=name)
    provider = providers.get(name)
    if provider is None:  # the engine turns such policies into deny rules; never let one through
        reason = f"CUSTOM provider {name!r} is not in the mesh config"
        denied = dataclasses.replace(authz, outcome="denied", reason=reason, action="CUSTOM")
        return rbac_denied(Trace(AuthnTrace("not evaluated"), denied), path=decision.path)
    clients = providers if isinstance(providers, CustomProviders) else None
    verdict = await check(provider, _as_seen_by_ext_authz(decision, attrs), clients)
    if not verdict.allowed:
        reason = verdict.error or f"denied by CUSTOM provider {name}"
        trace = Trace(
            AuthnTrace("not evaluated"),
            dataclasses.replace(authz, outcome="denied", reason=reason, action="CUSTOM"),
            decision.trace.path,
        )
        return Decision(
            allowed=False, status=verdict.status, body=verdict.body, headers=verdict.headers, upstream=None,
            trace=trace, content_type=verdict.content_type, path=decision.path,
        )  # fmt: skip
    trace = dataclasses.replace(decision.trace, authz=authz)
    if not decision.allowed or decision.upstream is None:
        return dataclasses.replace(decision, trace=trace, custom_provider=None)
    return dataclasses.replace(
        decision, trace=trace, custom_provider=None, upstream=merge_upstream(decision.upstream, verdict)
    )


def merge_upstream(engine: UpstreamEdits, verdict: ProviderVerdict) -> UpstreamEdits:
    """ext_authz edits the request first, jwt_authn after: the engine's edits win on a conflict."""
    engine_names = set(engine.remove) | {n for n, _ in engine.set}
    provider_set = tuple((n, v) for n, v in verdict.upstream_set if n not in engine_names)
    provider_set_names = {n for n, _ in provider_set}
    remove = (
        *engine.remove,
        *(n for n in verdict.upstream_remove if n not in provider_set_names | engine_names),
    )
    return UpstreamEdits(path=engine.path, remove=remove, set=(*provider_set, *engine.set))


def _as_seen_by_ext_authz(decision: Decision, attrs: RequestAttributes) -> RequestAttributes:
    """Envoy's ext_authz filter runs after path normalization: it sees the normalized path."""
    return attrs if decision.path is None else dataclasses.replace(attrs, path=decision.path)
