"""JwtRules compiled into Envoy jwt_authn providers as istiod builds them (docs/istio-semantics.md §3.1).

Source: istio/istio:pilot/pkg/security/authn/policy_applier.go (convertToEnvoyJwtConfig,
buildSpaceDelimitedClaims). Rules sorted by issuer (stable here; istiod's sort is not), provider i named
`origins-<i>`; default locations (`Authorization: Bearer ` + `access_token`) only when a rule names none;
space-delimited claims = the rule's ∪ {permission, scope}, sorted; inline `jwks` parsed once and used
instead of `jwksUri`. Audiences are stored sanitized (check_audience.cc).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meshgate.authn.extractor import DEFAULT_HEADER, DEFAULT_PARAM, DEFAULT_PREFIX, Location, order_locations
from meshgate.config.model import JwtRule
from meshgate.jose.jwks import parse_jwks
from meshgate.jose.keys import KeySet

PROVIDER_NAME = "origins-{}"  # istio/istio:pilot/pkg/security/authn/policy_applier.go
DEFAULT_SPACE_DELIMITED_CLAIMS = ("permission", "scope")  # policy_applier.go buildSpaceDelimitedClaims
DEFAULT_CLOCK_SKEW_S = 60  # jwt_verify_lib kClockSkewInSecond; Istio never sets clock_skew_seconds


def sanitize_audience(aud: str) -> str:
    """check_audience.cc sanitizeAudience: drop a leading http:// or https:// and one trailing '/'."""
    if not aud:
        return aud
    begin = 0
    if aud.startswith("http://"):
        begin = 7
    elif aud.startswith("https://"):
        begin = 8
    end = len(aud) - 1 if aud[-1] == "/" else len(aud)
    return aud[begin:end]


@dataclass(frozen=True, slots=True)
class Provider:
    """One Envoy JwtProvider."""

    index: int
    name: str
    issuer: str
    audiences: frozenset[str]  # sanitized; empty = any
    locations: tuple[Location, ...]  # Envoy's extraction order
    forward: bool
    payload_header: str  # lower-case, "" = none
    claim_headers: tuple[tuple[str, str], ...]  # (claim, lower-case header)
    sanitize: tuple[str, ...]  # headers deleted before verification (extractor sanitizeHeaders)
    space_delimited: tuple[str, ...]
    jwks_uri: str  # remote key set; "" when inline or unresolved
    inline: KeySet | None
    timeout_s: float
    fingerprint: int  # hash of the JwtRule it was compiled from: the same rule, the same provider

    def describe(self) -> str:
        return f"{self.name} (issuer {self.issuer})"

    def issuer_allowed(self, iss: str) -> bool:
        """extractor.cc JwtIssuerChecker: an empty provider issuer allows every issuer."""
        return not self.issuer or iss == self.issuer

    def audience_allowed(self, token_audiences: Sequence[str]) -> bool:
        """check_audience.cc areAudiencesAllowed."""
        if not self.audiences:
            return True
        return any(sanitize_audience(a) in self.audiences for a in token_audiences)


def _locations(rule: JwtRule) -> tuple[Location, ...]:
    if not rule.has_explicit_locations:
        return order_locations(
            [Location("header", DEFAULT_HEADER, DEFAULT_PREFIX), Location("param", DEFAULT_PARAM)]
        )
    locs = [Location("header", h.name.lower(), h.prefix) for h in rule.from_headers]
    locs += [Location("param", p) for p in rule.from_params]
    locs += [Location("cookie", c) for c in rule.from_cookies]
    return order_locations(locs)


def compile_providers(rules: Sequence[JwtRule]) -> tuple[Provider, ...]:
    ordered = sorted(rules, key=lambda r: r.issuer)
    providers = []
    for i, rule in enumerate(ordered):
        claim_headers = tuple((c.claim, c.header.lower()) for c in rule.output_claim_to_headers)
        payload_header = rule.output_payload_to_header.lower()
        sanitize = ((payload_header,) if payload_header else ()) + tuple(h for _, h in claim_headers)
        inline = parse_jwks(rule.jwks) if rule.jwks else None
        providers.append(
            Provider(
                index=i,
                name=PROVIDER_NAME.format(i),
                issuer=rule.issuer,
                audiences=frozenset(sanitize_audience(a) for a in rule.audiences),
                locations=_locations(rule),
                forward=rule.forward_original_token,
                payload_header=payload_header,
                claim_headers=claim_headers,
                sanitize=sanitize,
                space_delimited=tuple(
                    sorted(set(rule.space_delimited_claims) | set(DEFAULT_SPACE_DELIMITED_CLAIMS))
                ),
                jwks_uri="" if inline is not None else rule.jwks_uri,
                inline=inline,
                timeout_s=rule.timeout_s,
                fingerprint=hash(rule),
            )
        )
    return tuple(providers)
