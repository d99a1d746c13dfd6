"""A CUSTOM provider's answer, with Istio's `failOpen` / `statusOnError` already applied."""

from __future__ import annotations

from dataclasses import dataclass

from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE


@dataclass(frozen=True, slots=True)
class ProviderVerdict:
    """Allowed (with the upstream edits the provider asks for) or denied (with what to answer)."""

    allowed: bool
    status: int = 200
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # to the client, on denial
    upstream_set: tuple[tuple[str, str], ...] = ()
    upstream_remove: tuple[str, ...] = ()
    content_type: str = LOCAL_REPLY_CONTENT_TYPE
    error: str | None = None  # why the provider could not answer (then fail open or closed)


def failed(provider: ExtAuthzProvider, error: str) -> ProviderVerdict:
    """The provider could not answer: Envoy's `failure_mode_allow` (failOpen), else `status_on_error`."""
    if provider.fail_open:
        return ProviderVerdict(True, error=error)
    return ProviderVerdict(False, provider.status_on_error, "", error=error, content_type="")
