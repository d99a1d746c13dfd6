"""Request authentication: Istio's jwt_authn requirement over the compiled providers (§1.3–§1.5).

Sources: envoyproxy/envoy:source/extensions/filters/http/jwt_authn/{verifier.cc, authenticator.cc,
filter.cc}. Istio's requirement is `requires_any[origins-0, allow_missing]` for one provider, and
`requires_any[origins-0..N-1, requires_all[requires_any[origins-i, allow_missing]...]]` for N > 1.
Each provider run deletes its output headers, extracts its tokens, and verifies them last-first; all
must pass (parse → issuer → nbf/exp → audience → keys → signature). Verified tokens add payload/claim
headers and remove their header or query parameter unless forwarded; the last one is the identity.
requires_any stops at the first OK, else picks the final error as verifier.cc does; requires_all stops at
the first failure. meshgate additionally always strips every rule's output headers (also for a CORS
preflight); refuses, once Envoy's checks passed, a token Envoy accepts in a spelling meshgate does not
(`ParsedJwt.refusal`, jws.py); and once Envoy's requirement passed it verifies every other token the request
carries (`Run.verify_rest`: docs/security.md "More than one token"; Envoy ignores tokens its requirement
did not read).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from meshgate.authn.extractor import Extractor, envoy_view, order_locations
from meshgate.authn.header_edits import HeaderEdits, header_edits
from meshgate.authn.memo import WindowedLru
from meshgate.authn.providers import compile_providers
from meshgate.authn.requirement import istio_requirement
from meshgate.authn.result import AuthnResult, AuthnTrace
from meshgate.authn.run import Run
from meshgate.authn.verified_tokens import VerifiedTokens
from meshgate.config.model import JwtRule
from meshgate.jose.jws import HeaderMemo
from meshgate.jose.keys import KeySet, KeySnapshot
from meshgate.jose.status import JwtStatus

_S = JwtStatus
_OK_TEXT = _S.OK.value


class HttpRequest(Protocol):
    """What jwt_authn reads of a request besides its path (engine/attributes.py RequestAttributes)."""

    @property
    def method(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, tuple[str, ...]]: ...


class Authenticator:
    """Compiled JWT rules of one workload; `authenticate` is synchronous and never reads the clock."""

    def __init__(
        self,
        rules: Sequence[JwtRule],
        cache_size: int = 4096,
        verified_tokens: VerifiedTokens | None = None,
    ) -> None:
        """`verified_tokens`: the process's cache (ServingState's), shared by every engine and reload."""
        self.rules = tuple(rules)
        self.providers = compile_providers(rules)
        self.locations = order_locations([loc for p in self.providers for loc in p.locations])
        self.location_index = {loc: i for i, loc in enumerate(self.locations)}
        self.extract = Extractor(self.locations)
        self.location_providers = {
            loc: tuple(p for p in self.providers if loc in p.locations) for loc in self.locations
        }
        self.requirement = istio_requirement(len(self.providers)) if self.providers else None
        self._one_provider = len(self.providers) == 1
        self._provider_text = tuple(p.describe() for p in self.providers)  # for traces, formatted once
        self._location_text = {loc: loc.describe() for loc in self.locations}
        # run.removed → the result's removals and, when nothing is added, their header edits (shared)
        self._removals: dict[tuple[str, ...], tuple[tuple[str, ...], HeaderEdits | None]] = {}
        self.always_remove = tuple(dict.fromkeys(h for p in self.providers for h in p.sanitize))
        inline = [p.inline for p in self.providers]
        self._static_keysets = tuple(inline) if all(k is not None for k in inline) else None
        self.verified_tokens = verified_tokens if verified_tokens is not None else VerifiedTokens(cache_size)
        self.header_memo = HeaderMemo()  # token header segments parsed, for new tokens of known issuers
        # The authentication result per set of tokens found (and key sets): a returning client is a lookup.
        self.result_memo: WindowedLru[AuthnResult] = WindowedLru(cache_size)
        self._no_rules = self._unverified("no rules", ())
        self._no_token = self._unverified("no token", self.always_remove)
        self._cors = self._unverified("bypassed (CORS preflight)", self.always_remove)

    def _unverified(self, outcome: str, remove: tuple[str, ...]) -> AuthnResult:
        """A success without a verified token: only the rules' output headers are taken off."""
        return AuthnResult(
            status=_S.OK, identity=None, remove_headers=remove, set_headers=(), refresh=(),
            trace=AuthnTrace(outcome, _OK_TEXT), header_edits=header_edits(remove, ()),
        )  # fmt: skip

    def jwks_uris(self) -> tuple[tuple[str, float], ...]:
        """Distinct (jwksUri, timeout_s) of the remote key sets, for the key store."""
        seen: dict[str, float] = {}
        for p in self.providers:
            if p.jwks_uri and p.jwks_uri not in seen:
                seen[p.jwks_uri] = p.timeout_s
        return tuple(seen.items())

    def authenticate(self, request: HttpRequest, path: str, keys: KeySnapshot, now: float) -> AuthnResult:
        if self.requirement is None:
            return self._no_rules
        headers = request.headers
        if request.method == "OPTIONS" and _is_cors_preflight(headers):
            return self._cors
        keysets = self._static_keysets
        if keysets is None:
            keysets = tuple(
                p.inline if p.inline is not None else keys.get(p.jwks_uri) for p in self.providers
            )
        every = self.extract(headers, path)
        # The outcome is a function of the tokens found (and where), the key sets and the time window:
        # keyed by those, a client reusing its token is a lookup whatever else its requests carry.
        memo_key = every if keysets is self._static_keysets else (every, tuple(map(id, keysets)))
        hit = self.result_memo.get(memo_key, now)
        if hit is not None:
            return hit
        single = self._single_token(every) if self._one_provider else None
        if single is not None:
            run, status = self._run_single(*single, keysets, now)
        else:
            tokens = envoy_view(self.locations, every)
            if not any(tokens):
                self.result_memo.put(memo_key, self._no_token, -math.inf, math.inf, keysets)
                return self._no_token
            run = Run(self, tokens, keysets, now)
            status = run.evaluate(self.requirement)
            if status is _S.OK:
                status = run.verify_rest(every)
        result = self._result(run, status)
        if run.memo_ok:
            self.result_memo.put(memo_key, result, run.valid_from, run.valid_until, keysets)
        return result

    @staticmethod
    def _single_token(every: tuple[tuple[str, ...], ...]) -> tuple[int, str] | None:
        """(location index, token) when the request carries exactly one token, anywhere; else None."""
        single: tuple[int, str] | None = None
        for index, found in enumerate(every):
            if found:
                if single is not None or len(found) > 1:
                    return None
                single = (index, found[0])
        return single

    def _run_single(
        self, index: int, token: str, keysets: tuple[KeySet | None, ...], now: float
    ) -> tuple[Run, JwtStatus]:
        """The requirement's walk for one provider and one token, without the walk.

        With one provider Istio's requirement is requires_any[origins-0, allow_missing]: the provider
        reads its locations, finds this one token, verifies it, and the outcome is that token's status
        (never JWT_MISSED: there is a token). verify_rest has nothing left to check: the token is the
        only one and it was just verified. tests/authn/test_authn_single.py pins both walks equal.
        """
        provider, loc = self.providers[0], self.locations[index]
        run = Run(self, (), keysets, now)
        status = run.verify_token(provider, loc, token)
        if status is not _S.OK:
            run.failures[status] = (provider, loc)
        return run, status

    def _result(self, run: Run, status: JwtStatus) -> AuthnResult:
        removed = tuple(run.removed)
        remove_edits = self._removals.get(removed)
        if remove_edits is None:  # a handful of distinct values per workload: the token headers read
            remove = self.always_remove + tuple(h for h in removed if h not in self.always_remove)
            remove_edits = self._removals[removed] = (remove, header_edits(remove, ()))
        remove, edits = remove_edits
        if status is not _S.OK:
            provider, loc = run.failures.get(status, (None, None))
            trace = AuthnTrace(
                "failed",
                status.value,
                self._provider_text[provider.index] if provider else "",
                self._location_text[loc] if loc else "",
            )
            return AuthnResult(status, None, remove, (), tuple(run.refresh), trace, edits)
        added = tuple(run.added)
        if added:
            edits = header_edits(remove, added)
        params = tuple(run.removed_params)
        if run.identity is None or run.verified is None:
            return AuthnResult(_S.OK, None, remove, added, (), self._no_token.trace, edits, params)
        provider, loc = run.verified
        trace = AuthnTrace(
            "verified",
            _OK_TEXT,
            self._provider_text[provider.index],
            self._location_text[loc],
            run.identity.principal,
        )
        # positional, in field order: one result is built per new token
        return AuthnResult(_S.OK, run.identity, remove, added, (), trace, edits, params)


def _is_cors_preflight(headers: Mapping[str, tuple[str, ...]]) -> bool:
    """jwt_authn filter.cc: OPTIONS with non-empty Origin and Access-Control-Request-Method."""
    return bool(",".join(headers.get("origin", ()))) and bool(
        ",".join(headers.get("access-control-request-method", ()))
    )
