"""Request authentication: Istio's jwt_authn requirement over the compiled providers (§1.3–§1.5).

Sources: envoyproxy/envoy:source/extensions/filters/http/jwt_authn/{verifier.cc, authenticator.cc,
filter.cc}. Istio's requirement is `requires_any[origins-0, allow_missing]` for one provider, and
`requires_any[origins-0..N-1, requires_all[requires_any[origins-i, allow_missing]...]]` for N > 1.
Each provider run deletes its output headers, extracts its tokens, and verifies them last-first; all
must pass (parse → issuer → nbf/exp → audience → keys → signature). Verified tokens add payload/claim
headers and remove their header unless forwarded; the last one is the identity. requires_any stops at
the first OK, else picks the final error as verifier.cc does; requires_all stops at the first failure.
meshgate additionally always strips every rule's output headers (also for a CORS preflight), and once
Envoy's requirement passed it verifies every other token the request carries (`_Run.verify_rest`:
docs/security.md "More than one token"; Envoy ignores tokens its requirement did not read).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.claim_headers import claim_header_value, normalize_payload
from meshgate.engine.decision import AuthnTrace
from meshgate.engine.extract import Location, extract_every, order_locations
from meshgate.engine.header_view import header_edits
from meshgate.engine.identity import Identity
from meshgate.engine.jws import ParsedJwt, parse_jwt, verify_time
from meshgate.engine.keyset import KeySet, KeySnapshot
from meshgate.engine.providers import DEFAULT_CLOCK_SKEW_S, Provider, compile_providers
from meshgate.engine.requirement import AuthnResult, Req, istio_requirement
from meshgate.engine.signature import verify
from meshgate.engine.status import JwtStatus
from meshgate.engine.token_cache import TokenCache
from meshgate.resources.model import JwtRule

__all__ = ["Authenticator", "AuthnResult", "istio_requirement"]

_S = JwtStatus
_SKEW = DEFAULT_CLOCK_SKEW_S
_OK_TEXT = _S.OK.value


class _Run:
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
        "tokens",
        "valid_from",
        "valid_until",
        "verified",
    )

    def __init__(
        self,
        auth: Authenticator,
        tokens: tuple[str | None, ...],
        keysets: tuple[KeySet | None, ...],
        now: float,
    ):
        self.auth = auth
        self.tokens = tokens
        self.keysets = keysets
        self.now = int(now)
        self.removed: list[str] = []
        self.added: list[tuple[str, str]] = []
        self.identity: Identity | None = None
        self.verified: tuple[Provider, Location] | None = None
        self.failures: dict[JwtStatus, tuple[Provider, Location | None]] = {}
        self.refresh: list[str] = []
        self.valid_from = -math.inf
        self.valid_until = math.inf
        self.memo_ok = True
        self.good: set[tuple[Location, str]] = set()

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
        """meshgate: every token still on the request must verify with a provider reading its location.

        Skipped: tokens already verified in this run, and header locations whose header is removed
        (never forwarded). Envoy's outcome (identity, added headers) stands; a failure is the result.
        """
        identity, verified, added = self.identity, self.verified, self.added
        status = _S.OK
        for loc, tokens in zip(self.auth.locations, every, strict=True):
            for token in tokens:
                if (loc, token) in self.good or (loc.kind == "header" and loc.name in self.removed):
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
        found = [
            (loc, tok)
            for loc, tok in zip(provider.locations, self._provider_tokens(provider), strict=True)
            if tok is not None and not (loc.kind == "header" and loc.name in self.removed)
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

    def _provider_tokens(self, provider: Provider) -> list[str | None]:
        index = self.auth.location_index
        return [self.tokens[index[loc]] for loc in provider.locations]

    def verify_token(self, provider: Provider, loc: Location, token: str) -> JwtStatus:
        keyset = self.keysets[provider.index]
        cache_key = (token, provider.index, id(keyset))
        parsed = self.auth.token_cache.get(cache_key, self.now)
        cached = parsed is not None
        if parsed is None:
            result = parse_jwt(token)
            if isinstance(result, JwtStatus):
                return result
            parsed = result
        if not provider.issuer_allowed(parsed.iss):
            return _S.JWT_UNKNOWN_ISSUER
        status = verify_time(parsed, self.now, _SKEW)
        if status is not _S.OK:
            self.memo_ok = False
            return status
        self.valid_from = max(self.valid_from, parsed.nbf - _SKEW)
        if parsed.exp:
            self.valid_until = min(self.valid_until, parsed.exp + _SKEW + 1)
        if not provider.audience_allowed(parsed.aud):
            return _S.JWT_AUDIENCE_NOT_ALLOWED
        if not cached:
            status = self._check_signature(provider, keyset, parsed)
            if status is not _S.OK:
                return status
            until = parsed.exp + _SKEW + 1 if parsed.exp else math.inf
            self.auth.token_cache.put(cache_key, parsed, -math.inf, until, keyset)
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
        if not provider.forward and loc.kind == "header" and loc.name not in self.removed:
            self.removed.append(loc.name)
            self.added = [h for h in self.added if h[0] != loc.name]
        self.good.add((loc, parsed.token))
        claims = normalize_payload(parsed.payload, provider.space_delimited)
        self.identity = Identity(parsed.iss, parsed.sub if parsed.has_sub else None, claims)
        self.verified = (provider, loc)


class Authenticator:
    """Compiled JWT rules of one workload; `authenticate` is synchronous and never reads the clock."""

    def __init__(self, rules: Sequence[JwtRule], cache_size: int = 4096) -> None:
        self.providers = compile_providers(rules)
        self.locations = order_locations([loc for p in self.providers for loc in p.locations])
        self.location_index = {loc: i for i, loc in enumerate(self.locations)}
        self.location_providers = {
            loc: tuple(p for p in self.providers if loc in p.locations) for loc in self.locations
        }
        self.requirement = istio_requirement(len(self.providers)) if self.providers else None
        self._one_provider = len(self.providers) == 1
        self._provider_text = tuple(p.describe() for p in self.providers)  # for traces, formatted once
        self._location_text = {loc: loc.describe() for loc in self.locations}
        self._removals: dict[tuple[str, ...], tuple[str, ...]] = {}  # run.removed → the result's removals
        self.always_remove = tuple(dict.fromkeys(h for p in self.providers for h in p.sanitize))
        # what the outcome depends on, read raw for the result memo: header values, query, cookies
        self._raw_headers = tuple(dict.fromkeys(loc.name for loc in self.locations if loc.kind == "header"))
        self._reads_query = any(loc.kind == "param" for loc in self.locations)
        self._reads_cookies = any(loc.kind == "cookie" for loc in self.locations)
        inline = [p.inline for p in self.providers]
        self._static_keysets = tuple(inline) if all(k is not None for k in inline) else None
        self._static_ids = tuple(map(id, self._static_keysets)) if self._static_keysets is not None else ()
        self.token_cache: TokenCache[ParsedJwt] = TokenCache(cache_size)
        self.result_cache: TokenCache[AuthnResult] = TokenCache(cache_size)
        self._no_rules = AuthnResult(_S.OK, None, (), (), (), AuthnTrace("no rules", _S.OK.value))
        strip = header_edits(self.always_remove, ())
        self._no_token = AuthnResult(
            _S.OK, None, self.always_remove, (), (), AuthnTrace("no token", _S.OK.value), strip
        )
        self._cors = AuthnResult(
            _S.OK,
            None,
            self.always_remove,
            (),
            (),
            AuthnTrace("bypassed (CORS preflight)", _S.OK.value),
            strip,
        )

    def jwks_uris(self) -> tuple[tuple[str, float], ...]:
        """Distinct (jwksUri, timeout_s) of the remote key sets, for the key store."""
        seen: dict[str, float] = {}
        for p in self.providers:
            if p.jwks_uri and p.jwks_uri not in seen:
                seen[p.jwks_uri] = p.timeout_s
        return tuple(seen.items())

    def authenticate(self, attrs: RequestAttributes, path: str, keys: KeySnapshot, now: float) -> AuthnResult:
        if self.requirement is None:
            return self._no_rules
        headers = attrs.headers
        if attrs.method == "OPTIONS" and _is_cors_preflight(attrs):
            return self._cors
        keysets = self._static_keysets
        if keysets is None:
            keysets = tuple(
                p.inline if p.inline is not None else keys.get(p.jwks_uri) for p in self.providers
            )
        # The memo key holds every input the outcome depends on: raw token sources and key set objects.
        names = self._raw_headers
        raw: tuple[object, ...] = (
            (headers.get(names[0]),) if len(names) == 1 else tuple([headers.get(name) for name in names])
        )
        if self._reads_query:
            q = path.find("?")
            raw += (path[q:] if q >= 0 else "",)
        if self._reads_cookies:
            raw += (headers.get("cookie"),)
        memo_key = raw + (self._static_ids if keysets is self._static_keysets else tuple(map(id, keysets)))
        hit = self.result_cache.get(memo_key, now)
        if hit is not None:
            return hit
        every = extract_every(self.locations, headers, path)
        single = self._single_token(every) if self._one_provider else None
        if single is not None:
            run, status = self._run_single(*single, keysets, now)
        else:
            tokens = tuple(found[0] if found else None for found in every)  # Envoy reads the first
            if tokens.count(None) == len(tokens):
                self.result_cache.put(memo_key, self._no_token, -math.inf, math.inf, keysets)
                return self._no_token
            run = _Run(self, tokens, keysets, now)
            status = run.evaluate(self.requirement)
            if status is _S.OK:
                status = run.verify_rest(every)
        result = self._result(run, status)
        if run.memo_ok:
            self.result_cache.put(memo_key, result, run.valid_from, run.valid_until, keysets)
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
    ) -> tuple[_Run, JwtStatus]:
        """The requirement's walk for one provider and one token, without the walk.

        With one provider Istio's requirement is requires_any[origins-0, allow_missing]: the provider
        reads its locations, finds this one token, verifies it, and the outcome is that token's status
        (never JWT_MISSED: there is a token). verify_rest has nothing left to check: the token is the
        only one and it was just verified. tests/engine/test_authn_single.py pins both walks equal.
        """
        provider, loc = self.providers[0], self.locations[index]
        run = _Run(self, (), keysets, now)
        status = run.verify_token(provider, loc, token)
        if status is not _S.OK:
            run.failures[status] = (provider, loc)
        return run, status

    def _result(self, run: _Run, status: JwtStatus) -> AuthnResult:
        removed = tuple(run.removed)
        remove = self._removals.get(removed)
        if remove is None:  # a handful of distinct values per workload: the token headers read
            remove = self.always_remove + tuple(h for h in removed if h not in self.always_remove)
            self._removals[removed] = remove
        if status is not _S.OK:
            provider, loc = run.failures.get(status, (None, None))
            trace = AuthnTrace(
                "failed",
                status.value,
                self._provider_text[provider.index] if provider else "",
                self._location_text[loc] if loc else "",
            )
            return AuthnResult(status, None, remove, (), tuple(run.refresh), trace, header_edits(remove, ()))
        added = tuple(run.added)
        edits = header_edits(remove, added)
        if run.identity is None or run.verified is None:
            return AuthnResult(_S.OK, None, remove, added, (), self._no_token.trace, edits)
        provider, loc = run.verified
        trace = AuthnTrace(
            "verified",
            _OK_TEXT,
            self._provider_text[provider.index],
            self._location_text[loc],
            run.identity.principal,
        )
        return AuthnResult(_S.OK, run.identity, remove, added, (), trace, edits)


def _is_cors_preflight(attrs: RequestAttributes) -> bool:
    """jwt_authn filter.cc: OPTIONS with non-empty Origin and Access-Control-Request-Method."""
    return bool(attrs.header("origin")) and bool(attrs.header("access-control-request-method"))
