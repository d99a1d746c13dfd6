"""ServingState: the one object every front holds — the engine in force, the key store, metrics, access log.

Reload swaps `engine` in one assignment; a front reads `state.engine` once per request, so a request is
decided wholly by the old or wholly by the new configuration (docs/architecture.md "A reload").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from meshgate.config.model import ResourceSet, Workload
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.decision import Decision
from meshgate.engine.options import EngineOptions
from meshgate.keystore.store import KeyStore
from meshgate.server.access_log import AccessLog
from meshgate.server.decide import settle, waits
from meshgate.server.decisions import DecisionRing
from meshgate.server.metrics import Metrics

if TYPE_CHECKING:
    from meshgate.engine.engine import Engine
    from meshgate.server.ingress import Ingress


class ServingState:
    """Shared by the gateway, the ext_authz front, the admin server and the reloader."""

    def __init__(
        self,
        engine: Engine,
        keystore: KeyStore,
        metrics: Metrics,
        access_log: AccessLog,
        *,
        config_paths: Sequence[str] = (),
        workload: Workload | None = None,
        options: EngineOptions | None = None,
        resources: ResourceSet | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        # The process's verified-token cache: the first engine's, handed to every engine built after it.
        self.verified_tokens = engine.authenticator.verified_tokens
        self.keystore = keystore
        self.metrics = metrics
        self.access_log = access_log
        self.decisions = DecisionRing()  # the last decisions, for the admin page
        self.config_paths = tuple(config_paths)
        self.workload = workload or Workload()
        self.options = options or EngineOptions()
        self.resources = resources  # everything loaded from config_paths (for /config_dump)
        self.clock = clock
        self.config_loaded = True
        self.loaded_at = clock()
        self.last_reload: dict[str, Any] | None = None  # set by the reloader: time, result, problems
        # meshgate as the ingress (server/ingress.py): the routing table and destination engines in force;
        # `ingress_enabled` asks the loads to build it (`serve` does, `authz-server` does not)
        self.ingress: Ingress | None = None
        self.ingress_enabled = False
        self.on_swap: list[Callable[[], None]] = []  # called after a swap (the gateway's listeners follow)
        metrics.bind_keystore(keystore)
        metrics.bind_verified_tokens(self.verified_tokens)

    @property
    def ready(self) -> bool:
        """Config loaded and every JWKS source had its first fetch attempt (success or failure)."""
        return self.config_loaded and self.keystore.first_attempts_done

    def decide_now(self, attrs: RequestAttributes, now: float) -> Decision:
        """The engine's decision with the current key snapshot (sync; never waits on the network)."""
        return self.engine.decide(attrs, self.keystore.snapshot, now)

    async def decide(self, attrs: RequestAttributes) -> Decision:
        """Decide with the engine in force; on an unknown kid refetch the named key sets, then again."""
        engine = self.engine
        decision = engine.decide(attrs, self.keystore.snapshot, self.clock())
        return (
            await settle(decision, attrs, engine, self.keystore, self.clock) if waits(decision) else decision
        )

    def swap(
        self,
        engine: Engine,
        resources: ResourceSet | None,
        config_paths: Sequence[str],
        ingress: Ingress | None = None,
    ) -> None:
        """Put a new configuration in force (called by the reloader after it validated it whole).

        The verified tokens of providers the new configuration removed or changed are dropped; the
        others stay warm (an AuthorizationPolicy edit re-verifies nothing).
        """
        gone = _fingerprints(self.engine, self.ingress) - _fingerprints(engine, ingress)
        self.resources = resources
        self.config_paths = tuple(config_paths)
        self.ingress = ingress
        self.engine = engine  # the one assignment requests observe
        self.loaded_at = self.clock()
        self.verified_tokens.forget(gone)
        for hook in self.on_swap:
            hook()


def _fingerprints(engine: Engine, ingress: Ingress | None) -> frozenset[int]:
    found = engine.provider_fingerprints
    for other in ingress.engines.values() if ingress is not None else ():
        found |= other.provider_fingerprints
    return found
