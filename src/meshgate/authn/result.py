"""What authentication hands the rest: the outcome, the identity, the request edits, and why.

Plain slots records (compared by value, never hashed): the authenticator memoizes a result per set of
tokens found, and builds one only for a token it has not seen, so a frozen record's per-field cost
would buy nothing the type checker does not already give.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgate.authn.header_edits import HeaderEdits
from meshgate.authn.identity import Identity
from meshgate.jose.status import JwtStatus


@dataclass(slots=True)
class AuthnTrace:
    """Which JWT rule verified which token, or the exact failing check."""

    outcome: str  # "no token", "verified", "failed", "bypassed (CORS preflight)", "no rules", "not evaluated"
    status: str = ""  # jwt_verify_lib message of the failure (or "OK")
    provider: str = ""  # e.g. "origins-0 (issuer testing@secure.istio.io)"
    token_location: str = ""  # e.g. "header authorization (prefix 'Bearer ')"
    principal: str = ""


@dataclass(slots=True)
class AuthnResult:
    """jwt_authn's outcome for one request, and the edits it makes to it before authorization and upstream."""

    status: JwtStatus
    identity: Identity | None
    remove_headers: tuple[str, ...]  # lower-case names taken off the request
    set_headers: tuple[tuple[str, str], ...]  # payload and claim headers added
    refresh: tuple[str, ...]  # jwksUris to refetch (an unknown kid) before asking again
    trace: AuthnTrace
    header_edits: HeaderEdits | None = None  # the same edits, as authorization must see them
    remove_params: tuple[str, ...] = ()  # query parameters of verified, not forwarded tokens (decoded names)

    @property
    def ok(self) -> bool:
        return self.status is JwtStatus.OK
