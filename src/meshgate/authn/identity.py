"""What a verified JWT tells authorization: `request.auth.*` (docs/istio-semantics.md §3.5, §5.5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Identity:
    """The last verified token's view (Envoy: the last payload written to metadata wins).

    `claims` is the payload as Envoy stores it in dynamic metadata: space-delimited claims
    (`scope`, `permission`, the rule's `spaceDelimitedClaims`) already split into lists.
    """

    issuer: str
    subject: str | None
    claims: Mapping[str, Any]

    @property
    def principal(self) -> str:
        """`request.auth.principal` = `<iss>/<sub>`; empty when the token has no `sub`."""
        return f"{self.issuer}/{self.subject}" if self.subject is not None else ""
