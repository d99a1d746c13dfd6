"""Authorization (RBAC) over compiled AuthorizationPolicies. Skeleton: full version in progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from meshgate.engine.decision import AuthzTrace
from meshgate.engine.identity import Identity
from meshgate.resources.model import AuthorizationPolicy


@dataclass(frozen=True, slots=True)
class AuthzRequest:
    method: str
    host: str
    path: str
    port: int
    headers: Mapping[str, tuple[str, ...]]
    source_ip: str
    remote_ip: str
    destination_ip: str
    sni: str
    identity: Identity | None


@dataclass(frozen=True, slots=True)
class AuthzResult:
    allowed: bool
    custom_provider: str | None
    trace: AuthzTrace


class Authorizer:
    def __init__(self, policies: Sequence[AuthorizationPolicy], custom_providers: frozenset[str]) -> None:
        self.policies = tuple(policies)
        self.custom_providers = custom_providers

    def authorize(self, req: AuthzRequest) -> AuthzResult:
        return AuthzResult(True, None, AuthzTrace(outcome="allowed", reason="skeleton"))
