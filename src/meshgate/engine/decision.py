"""A decision is a value: what to answer, what to change upstream, and why."""

from __future__ import annotations

from dataclasses import field

from meshgate.engine.immutable import immutable
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE


@immutable
class UpstreamEdits:
    """What changes before proxying: the request-target (normalized; a verified token's query parameter
    removed unless forwarded), and header edits applied in order: remove, then set. Names are lower-case."""

    path: str
    remove: tuple[str, ...] = ()
    set: tuple[tuple[str, str], ...] = ()


@immutable
class AuthnTrace:
    """Which JWT rule verified which token, or the exact failing check."""

    outcome: str  # "no token", "verified", "failed", "bypassed (CORS preflight)", "no rules"
    status: str = ""  # jwt_verify_lib message of the failure (or "OK")
    provider: str = ""  # e.g. "origins-0 (issuer testing@secure.istio.io)"
    token_location: str = ""  # e.g. "header authorization (prefix 'Bearer ')"
    principal: str = ""


@immutable
class AuthzTrace:
    """Which policy decided (`ns[NS]-policy[NAME]-rule[i]`), and what shadow/audit rules matched."""

    outcome: str  # "allowed", "denied", "not evaluated"
    reason: str = ""  # human sentence
    policy_id: str | None = None
    action: str = ""  # ALLOW / DENY / CUSTOM / "" (none)
    audit: tuple[str, ...] = ()
    shadow: tuple[str, ...] = ()  # dry-run policy ids that would have matched, with their effect
    custom_provider: str | None = None


@immutable
class Trace:
    authn: AuthnTrace
    authz: AuthzTrace
    path: str = ""  # normalized path, or the reason normalization failed


@immutable
class Decision:
    """The engine's answer. When `allowed`, status is 200 and `upstream` holds the edits.

    `refresh` names the JWKS sources the front should refetch before asking again (unknown kid);
    `custom_provider` asks the front to consult that CUSTOM ext_authz provider (the engine does no I/O).
    """

    allowed: bool
    status: int
    body: str
    headers: tuple[tuple[str, str], ...]
    upstream: UpstreamEdits | None
    trace: Trace
    refresh: tuple[str, ...] = ()
    custom_provider: str | None = None
    content_type: str = field(default=LOCAL_REPLY_CONTENT_TYPE)

    @property
    def reason(self) -> str:
        """One short phrase for access logs: the failing JWT check, or the matched policy id / none."""
        if self.trace.authn.outcome == "failed":
            return self.trace.authn.status
        if self.trace.authz.policy_id:
            return self.trace.authz.policy_id
        return self.trace.authz.reason or "none"
