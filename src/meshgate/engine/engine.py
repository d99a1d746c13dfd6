"""The engine: one compiled workload view, deciding requests synchronously (docs/architecture.md).

Order, as Envoy runs Istio's filter chain (docs/istio-semantics.md §3.2): path normalization (HCM) →
CUSTOM match (before jwt_authn) → jwt_authn → RBAC AUDIT → DENY → ALLOW. Authorization reads the
headers as jwt_authn left them (client copies of output headers gone: authn/header_edits.py), and the
path meshgate's path guard accepted (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meshgate.authn.authenticator import Authenticator
from meshgate.authn.header_edits import edited
from meshgate.authn.query import without_params
from meshgate.authn.result import AuthnResult, AuthnTrace
from meshgate.authn.verified_tokens import VerifiedTokens
from meshgate.authz.authorizer import Authorizer
from meshgate.authz.request import AuthzRequest
from meshgate.authz.result import AuthzTrace
from meshgate.config.model import AuthorizationPolicy, RequestAuthentication, ResourceSet, Workload
from meshgate.config.select import select_for_workload
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.decision import Decision, Trace, UpstreamEdits, allowed, rbac_denied
from meshgate.engine.options import EngineOptions
from meshgate.engine.pathnorm import normalize_path, path_rejection, strip_query
from meshgate.engine.remote_ip import remote_ip
from meshgate.engine.status import www_authenticate
from meshgate.jose.keys import KeySnapshot

REALM_MAX_PATH = 256  # jwt_authn filter.cc: realm uses the first 256 characters of :path


@dataclass(frozen=True, slots=True)
class JwksSource:
    """A remote key set the workload needs: the store fetches it with the rule's timeout."""

    uri: str
    timeout_s: float


class Engine:
    """Decides requests for one workload. Immutable after construction but for its caches."""

    def __init__(
        self,
        request_authentications: Sequence[RequestAuthentication],
        authorization_policies: Sequence[AuthorizationPolicy],
        options: EngineOptions | None = None,
        *,
        verified_tokens: VerifiedTokens | None = None,
        previous: Engine | None = None,
    ) -> None:
        """`verified_tokens`: the process's cache (else the engine's own). `previous`: the engine this one
        replaces; when the JWT rules are the same its authenticator (and its result memo) carries over."""
        self.options = options or EngineOptions()
        self.request_authentications = tuple(request_authentications)
        self.authorization_policies = tuple(authorization_policies)
        rules = tuple(rule for ra in self.request_authentications for rule in ra.jwt_rules)
        kept: Authenticator | None = previous.authenticator if previous is not None else None
        if kept is None or kept.rules != rules or verified_tokens not in (None, kept.verified_tokens):
            kept = Authenticator(rules, self.options.memo_entries, verified_tokens)
        self.authenticator: Authenticator = kept
        self.authorizer = Authorizer(self.authorization_policies, self.options.custom_providers)

    @classmethod
    def for_workload(
        cls,
        resources: ResourceSet,
        workload: Workload,
        options: EngineOptions | None = None,
        *,
        verified_tokens: VerifiedTokens | None = None,
        previous: Engine | None = None,
    ) -> Engine:
        """Select what applies to `workload` (docs/istio-semantics.md §2) and compile it."""
        authns, policies = select_for_workload(resources, workload)
        return cls(authns, policies, options, verified_tokens=verified_tokens, previous=previous)

    @property
    def provider_fingerprints(self) -> frozenset[int]:
        """The providers this engine verifies with (VerifiedTokens.forget drops the ones a reload removed)."""
        return frozenset(p.fingerprint for p in self.authenticator.providers)

    def jwks_sources(self) -> tuple[JwksSource, ...]:
        return tuple(JwksSource(uri, timeout) for uri, timeout in self.authenticator.jwks_uris())

    def decide(self, attrs: RequestAttributes, keys: KeySnapshot, now: float) -> Decision:
        mode = self.options.path_normalization
        path = normalize_path(attrs.path, mode)
        if path is None:
            return _bad_request(attrs, path_rejection(attrs.path, mode))
        return self._decide(attrs, path, self.authenticator.authenticate(attrs, path, keys, now))

    def _decide(self, attrs: RequestAttributes, path: str, authn: AuthnResult) -> Decision:
        headers = attrs.headers
        if self.authorizer.reads_headers:  # only then build the view of jwt_authn's edits
            headers = edited(headers, authn.header_edits)
        request = AuthzRequest(  # positional: the hot path builds one per request (fields in order)
            attrs.method, attrs.authority, strip_query(path), attrs.local_port, headers, attrs.peer_ip,
            remote_ip(attrs, self.options.trusted_proxies), attrs.local_ip, attrs.sni, authn.identity,
        )  # fmt: skip
        authz = self.authorizer.authorize(request)
        trace = Trace(authn.trace, authz.trace, path)
        if authz.custom_denied:
            # A CUSTOM policy with an unusable provider became deny rules, which Envoy evaluates in
            # the CUSTOM filters *before* jwt_authn: they answer 403 even when the token is bad.
            return rbac_denied(trace, path=path)
        provider = authz.custom_provider
        if not authn.ok:
            return _jwt_denied(attrs, path, authn, trace, provider)
        if not authz.allowed:
            return rbac_denied(trace, path=path, custom_provider=provider)
        upstream_path = without_params(path, authn.remove_params) if authn.remove_params else path
        return allowed(
            UpstreamEdits(upstream_path, authn.remove_headers, authn.set_headers), trace, path, provider
        )


def _jwt_denied(
    attrs: RequestAttributes,
    path: str,
    authn: AuthnResult,
    trace: Trace,
    custom_provider: str | None,
) -> Decision:
    realm = f"{attrs.scheme}://{attrs.authority}{path[:REALM_MAX_PATH]}"
    status = authn.status
    return Decision(
        allowed=False,
        status=status.http_status,
        body=status.message,
        headers=(("www-authenticate", www_authenticate(realm, status)),),
        upstream=None,
        trace=trace,
        refresh=authn.refresh,
        custom_provider=custom_provider,
        path=path,
    )


def _bad_request(attrs: RequestAttributes, reason: str) -> Decision:
    """Envoy answers a path it cannot normalize (e.g. `%00`) with an empty 400 (conn_manager_utility.cc);
    meshgate answers the same for the targets path_guard.py refuses."""
    trace = Trace(
        authn=AuthnTrace(outcome="not evaluated"),
        authz=AuthzTrace(outcome="not evaluated", reason="path normalization failed"),
        path=f"cannot normalize {attrs.path!r}: {reason}",
    )
    return Decision(allowed=False, status=400, body="", headers=(), upstream=None, trace=trace)
