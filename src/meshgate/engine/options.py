"""Engine options that come from flags / mesh config rather than from the policies."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class PathNormalization(Enum):
    """meshConfig pathNormalization (istio/api mesh/v1alpha1/config.proto ProxyPathNormalization)."""

    NONE = "NONE"
    BASE = "BASE"
    MERGE_SLASHES = "MERGE_SLASHES"
    DECODE_AND_MERGE_SLASHES = "DECODE_AND_MERGE_SLASHES"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    trusted_proxies: int = 0  # gatewayTopology.numTrustedProxies (xff_num_trusted_hops)
    path_normalization: PathNormalization = PathNormalization.BASE
    # Names of CUSTOM providers declared in the mesh config; a CUSTOM policy naming any other
    # provider becomes a deny rule (istio/istio:pilot/pkg/security/authz/builder/extauthz.go).
    custom_providers: frozenset[str] = frozenset()
    memo_entries: int = 4096  # bound of the verified-token cache and of the authentication result memo
