"""A decision is a value: what to answer, what to change upstream, and why.

Fronts act on the facts (`allowed`, `status`, `path`, `refresh`, `custom_provider`, ...) and never on the
trace, which is for people: logs, `meshgate check`, the admin page. Plain slots records, compared by
value and never hashed: one Decision, Trace and (when allowed) UpstreamEdits are built per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgate.authn.result import AuthnTrace
from meshgate.authz.result import AuthzTrace
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE, RBAC_ACCESS_DENIED


@dataclass(slots=True)
class UpstreamEdits:
    """What changes before proxying: the request-target (normalized; a verified token's query parameter
    removed unless forwarded), and header edits applied in order: remove, then set. Names are lower-case."""

    path: str
    remove: tuple[str, ...] = ()
    set: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Trace:
    authn: AuthnTrace
    authz: AuthzTrace
    path: str = ""  # normalized path, or the reason normalization failed


@dataclass(slots=True)
class Decision:
    """The engine's answer. When `allowed`, status is 200 and `upstream` holds the edits.

    `path` is the normalized request-target every filter after Envoy's normalization sees (None when it
    was refused); `refresh` names the JWKS sources the front should refetch before asking again (unknown
    kid); `custom_provider` asks the front to consult that CUSTOM ext_authz provider (the engine does no I/O).
    """

    allowed: bool
    status: int
    body: str
    headers: tuple[tuple[str, str], ...]
    upstream: UpstreamEdits | None
    trace: Trace
    refresh: tuple[str, ...] = ()
    custom_provider: str | None = None
    content_type: str = LOCAL_REPLY_CONTENT_TYPE
    path: str | None = None

    @property
    def reason(self) -> str:
        """One short phrase for access logs: the failing JWT check, or the matched policy id / none."""
        if self.trace.authn.outcome == "failed":
            return self.trace.authn.status
        if self.trace.authz.policy_id:
            return self.trace.authz.policy_id
        return self.trace.authz.reason or "none"


def allowed(edits: UpstreamEdits, trace: Trace, path: str, custom_provider: str | None) -> Decision:
    """A request to forward with `edits` (the engine's one allowed answer). Positional inside: one is built
    per allowed request, and a keyword call costs twice the construction."""
    return Decision(True, 200, "", (), edits, trace, (), custom_provider, LOCAL_REPLY_CONTENT_TYPE, path)


def rbac_denied(trace: Trace, *, path: str | None = None, custom_provider: str | None = None) -> Decision:
    """Envoy's RBAC denial: `403 RBAC: access denied` (envoyproxy/envoy:source/extensions/filters/http/rbac)."""
    return Decision(
        allowed=False,
        status=403,
        body=RBAC_ACCESS_DENIED,
        headers=(),
        upstream=None,
        trace=trace,
        custom_provider=custom_provider,
        path=path,
    )
