"""What authorization answers: allowed or not, whether a CUSTOM provider must be asked, and why.

`custom_denied` is a fact the engine acts on (a CUSTOM rule whose provider cannot be used denies before
jwt_authn runs); the trace is for people and never read for logic. Plain records: one per request.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class AuthzTrace:
    """Which policy decided (`ns[NS]-policy[NAME]-rule[i]`), and what shadow/audit rules matched."""

    outcome: str  # "allowed", "denied", "not evaluated"
    reason: str = ""  # human sentence
    policy_id: str | None = None
    action: str = ""  # ALLOW / DENY / CUSTOM / "" (none)
    audit: tuple[str, ...] = ()
    shadow: tuple[str, ...] = ()  # dry-run policy ids that would have matched, with their effect
    custom_provider: str | None = None


@dataclass(slots=True)
class AuthzResult:
    allowed: bool
    custom_provider: str | None  # the CUSTOM provider to consult (its rule matched), or None
    trace: AuthzTrace
    custom_denied: bool = False  # denied by a CUSTOM rule whose provider cannot be used
