"""One evaluation of Istio's jwt_authn requirement: the mutable state Envoy keeps while it walks it.

Sources: envoyproxy/envoy:source/extensions/filters/http/jwt_authn/{verifier.cc, authenticator.cc}
(the walk, handleGoodJwt, JwtLocation::removeJwt) and source/common/jwt/jwt.cc (verifyTimeConstraint).
Envoy mutates the request as it goes — a verified token's header or query parameter removed, payload and
claim headers added — and `Run` records those edits for the authenticator's result. `verify_rest` is
meshgate's: once Envoy's requirement passed, every other token found on the request must verify too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

from meshgate.authn.claim_headers import claim_header_value, normalize_payload
from meshgate.authn.extractor import Location
from meshgate.authn.identity import Identity
from meshgate.authn.providers import DEFAULT_CLOCK_SKEW_S, Provider
from meshgate.authn.requirement import Req
from meshgate.authn.verified_tokens import VerifiedTokens
from meshgate.jose.jws import HeaderMemo, ParsedJwt, parse_jwt, verify_time
from meshgate.jose.keys import KeySet
from meshgate.jose.signature import verify
from meshgate.jose.status import JwtStatus

_S = JwtStatus
_SKEW = DEFAULT_CLOCK_SKEW_S


class Compiled(Protocol):
    """What a run reads of the compiled rules (authn.Authenticator)."""

    @property
    def providers(self) -> tuple[Provider, ...]: ...
    @property
    def locations(self) -> tuple[Location, ...]: ...
    @property
    def location_index(self) -> Mapping[Location, int]: ...
    @property
    def location_providers(self) -> Mapping[Location, tuple[Provider, ...]]: ...
    @property
    def verified_tokens(self) -> VerifiedTokens: ...
    @property
    def header_memo(self) -> HeaderMemo: ...


class Run:
    """The mutable state of one evaluation (Envoy mutates the request headers as it goes)."""

    __slots__ = (
        "added",
        "auth",
        "failures",
        "good",
        "identity",
        "keysets",
        "memo_ok",
        "now",
        "refresh",
        "removed",
        "removed_params",
        "tokens",
        "valid_from",
        "valid_until",
        "verified",
    )

    def __init__(
        self,
        auth: Compiled,
        tokens: tuple[tuple[str, ...], ...],
        keysets: tuple[KeySet | None, ...],
        now: float,
    ):
        self.auth = auth
        self.tokens = tokens
        self.keysets = keysets
        self.now = int(now)
        self.removed: list[str] = []
        self.removed_params: list[str] = []
        self.added: list[tuple[str, str]] = []
        self.identity: Identity | None = None
        self.verified: tuple[Provider, Location] | None = None
        self.failures: dict[JwtStatus, tuple[Provider, Location | None]] = {}
        self.refresh: list[str] = []
        self.valid_from = -math.inf
        self.valid_until = math.inf
        self.memo_ok = True
        self.good: list[tuple[Location, str]] = []  # a handful at most: a list beats hashing Locations

    def evaluate(self, req: Req) -> JwtStatus:
        if req.kind == "provider":
            return self.run_provider(self.auth.providers[req.index])
        if req.kind == "all":
            for child in req.children:
                status = self.evaluate(child)
                if status is not _S.OK:
                    return status
            return _S.OK
        statuses = []
        for child in req.children:
            status = self.evaluate(child)
            if status is _S.OK:
                return _S.OK
            statuses.append(status)
        final = _S.JWT_MISSED  # verifier.cc AnyVerifierImpl::onComplete
        for status in statuses:
            if status not in (_S.JWT_MISSED, _S.JWT_UNKNOWN_ISSUER) or final is _S.JWT_MISSED:
                final = status
        return _S.OK if req.allow_missing and final is _S.JWT_MISSED else final

    def verify_rest(self, every: tuple[tuple[str, ...], ...]) -> JwtStatus:
        """meshgate: every token found on the request must verify with a provider reading its location.

        Skipped: tokens already verified in this run at the same location. Envoy's outcome (identity,
        added headers) stands; a failure is the result.
        """
        identity, verified, added = self.identity, self.verified, self.added
        status = _S.OK
        for loc, tokens in zip(self.auth.locations, every, strict=True):
            for token in tokens:
                if (loc, token) in self.good:
                    continue
                status = self._verify_anywhere(loc, token)
                if status is not _S.OK:
                    break
            if status is not _S.OK:
                break
        self.identity, self.verified = identity, verified
        self.added = [h for h in added if h[0] not in self.removed]
        return status

    def _verify_anywhere(self, loc: Location, token: str) -> JwtStatus:
        """requires_any over the providers reading `loc`: first OK wins, else the most telling error."""
        final = _S.JWT_UNKNOWN_ISSUER
        for provider in self.auth.location_providers[loc]:
            status = self.verify_token(provider, loc, token)
            if status is _S.OK:
                return status
            self.failures[status] = (provider, loc)
            if status is not _S.JWT_UNKNOWN_ISSUER:
                final = status
        return final

    def run_provider(self, provider: Provider) -> JwtStatus:
        for header in provider.sanitize:  # extractor.cc sanitizeHeaders
            self.added = [h for h in self.added if h[0] != header]
        index = self.auth.location_index
        found = [
            (loc, tok)
            for loc in provider.locations
            if not (loc.kind == "header" and loc.name in self.removed)  # a previous provider removed it
            for tok in self.tokens[index[loc]]
        ]
        if not found:
            return _S.JWT_MISSED
        while found:  # authenticator.cc startVerify pops from the back
            loc, token = found.pop()
            status = self.verify_token(provider, loc, token)
            if status is not _S.OK:
                self.failures[status] = (provider, loc)
                return status
        return _S.OK

    def verify_token(self, provider: Provider, loc: Location, token: str) -> JwtStatus:
        keyset = self.keysets[provider.index]
        parsed = self.auth.verified_tokens.get(token, provider, keyset, self.now)
        cached = parsed is not None
        if parsed is None:
            result = parse_jwt(token, self.auth.header_memo)
            if isinstance(result, JwtStatus):
                return result
            parsed = result
        if not provider.issuer_allowed(parsed.iss):
            return _S.JWT_UNKNOWN_ISSUER
        status = verify_time(parsed, self.now, _SKEW)
        if status is not _S.OK:
            self.memo_ok = False
            return status
        if parsed.nbf - _SKEW > self.valid_from:
            self.valid_from = parsed.nbf - _SKEW
        if parsed.exp and parsed.exp + _SKEW + 1 < self.valid_until:
            self.valid_until = parsed.exp + _SKEW + 1
        if not provider.audience_allowed(parsed.aud):
            return _S.JWT_AUDIENCE_NOT_ALLOWED
        if not cached:
            status = self._check_signature(provider, keyset, parsed)
            if status is not _S.OK:
                return status
            if parsed.refusal is not None:  # Envoy would accept it; meshgate does not (jws.py)
                return parsed.refusal
            until = parsed.exp + _SKEW + 1 if parsed.exp else math.inf
            self.auth.verified_tokens.put(provider, keyset, parsed, until)
        self._good_token(provider, loc, parsed)
        return _S.OK

    def _check_signature(self, provider: Provider, keyset: KeySet | None, parsed: ParsedJwt) -> JwtStatus:
        if provider.inline is not None:
            if keyset is None or keyset.status is not _S.OK:
                return _S.JWKS_NO_VALID_KEYS  # authenticator.cc: no usable local JWKS
            return verify(parsed, keyset)
        if keyset is None or keyset.status is not _S.OK:
            self._want_refresh(provider)
            return _S.JWKS_FETCH_FAIL
        status = verify(parsed, keyset)
        if status is not _S.OK and parsed.kid and parsed.kid not in keyset.kids:
            self._want_refresh(provider)  # unknown kid: the key store refetches, the front asks again
        return status

    def _want_refresh(self, provider: Provider) -> None:
        if provider.jwks_uri and provider.jwks_uri not in self.refresh:
            self.refresh.append(provider.jwks_uri)

    def _good_token(self, provider: Provider, loc: Location, parsed: ParsedJwt) -> None:
        """authenticator.cc handleGoodJwt."""
        if provider.payload_header:
            self.added.append((provider.payload_header, parsed.payload_b64))
        for claim, header in provider.claim_headers:
            value = claim_header_value(parsed.payload, claim)
            if value is not None:
                self.added.append((header, value))
        if not provider.forward:  # JwtLocation::removeJwt (extractor.cc); a cookie stays
            if loc.kind == "header" and loc.name not in self.removed:
                self.removed.append(loc.name)
                if self.added:
                    self.added = [h for h in self.added if h[0] != loc.name]
            elif loc.kind == "param" and loc.name not in self.removed_params:
                self.removed_params.append(loc.name)
        self.good.append((loc, parsed.token))
        claims = normalize_payload(parsed.payload, provider.space_delimited)
        self.identity = Identity(parsed.iss, parsed.sub if parsed.has_sub else None, claims)
        self.verified = (provider, loc)
