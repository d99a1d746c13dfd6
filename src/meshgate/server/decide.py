"""The one way a serving process decides: the engine now, and the network only when the engine asks.

The engine never waits. An unknown kid comes back as `refresh` (the key sets to refetch) and a matching
CUSTOM policy as `custom_provider`; `settle` does the waiting for the gateway, the ext_authz fronts and
the admin page alike: refetch the named key sets once (single-flight, rate-limited by the key store) and
decide again with the same engine, then ask the CUSTOM provider (Istio runs ext_authz first, so its
denial wins). A request is decided wholly by one engine, even when a reload swaps it meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from meshgate.custom.apply import apply_custom
from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.decision import Decision
from meshgate.engine.engine import Engine
from meshgate.keystore.store import KeyStore


def waits(decision: Decision) -> bool:
    """True when `settle` has work to do: a key set to refetch or a CUSTOM provider to ask."""
    return bool(decision.refresh) or decision.custom_provider is not None


async def settle(
    decision: Decision,
    attrs: RequestAttributes,
    engine: Engine,
    keystore: KeyStore,
    clock: Callable[[], float],
    providers: Mapping[str, ExtAuthzProvider] | None = None,
) -> Decision:
    """`engine`'s first `decision` on `attrs`, once its key sets are refetched and its CUSTOM provider asked.

    Without `providers` (the admin page's "try") the CUSTOM provider is named, not asked.
    """
    if decision.refresh:
        await asyncio.gather(*(keystore.refetch(uri) for uri in decision.refresh))
        decision = engine.decide(attrs, keystore.snapshot, clock())
    if decision.custom_provider is not None and providers is not None:
        decision = await apply_custom(decision, attrs, providers)
    return decision
