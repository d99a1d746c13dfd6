"""Istio's jwt_authn requirement tree and the authentication result (istio-semantics.md §1.3).

Source: istio/istio:pilot/pkg/security/authn/policy_applier.go (the requirement istiod builds).
"""

from __future__ import annotations

from meshgate.authn.header_edits import HeaderEdits
from meshgate.authn.identity import Identity
from meshgate.engine.decision import AuthnTrace
from meshgate.engine.immutable import immutable
from meshgate.engine.status import JwtStatus


@immutable
class AuthnResult:
    status: JwtStatus
    identity: Identity | None
    remove_headers: tuple[str, ...]
    set_headers: tuple[tuple[str, str], ...]
    refresh: tuple[str, ...]
    trace: AuthnTrace
    header_edits: HeaderEdits | None = None  # the same edits, as authorization must see them
    remove_params: tuple[str, ...] = ()  # query parameters of verified, not forwarded tokens (decoded names)

    @property
    def ok(self) -> bool:
        return self.status is JwtStatus.OK


@immutable
class Req:
    """A requirement node: kind "provider" (index), "any" (children, allow_missing) or "all"."""

    kind: str
    index: int = -1
    children: tuple[Req, ...] = ()
    allow_missing: bool = False


def istio_requirement(n: int) -> Req:
    """policy_applier.go: the requirement istiod builds for n providers."""
    leaves = tuple(Req("provider", i) for i in range(n))
    if n == 1:
        return Req("any", children=leaves, allow_missing=True)
    optional = tuple(Req("any", children=(leaf,), allow_missing=True) for leaf in leaves)
    return Req("any", children=(*leaves, Req("all", children=optional)))
