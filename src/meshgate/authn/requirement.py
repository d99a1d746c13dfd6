"""Istio's jwt_authn requirement tree (docs/istio-semantics.md §3.1).

Source: istio/istio:pilot/pkg/security/authn/policy_applier.go (the requirement istiod builds).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
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
