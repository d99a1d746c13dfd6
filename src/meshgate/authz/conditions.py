"""One compiled predicate per AuthorizationPolicy field or `when` key (docs/istio-semantics.md §5.3-§5.6).

`field_predicate(kind, values, strict)` ORs the values of one field into a `request -> bool`
(istio/istio:pilot/pkg/security/authz/model/generator.go, one generator per kind). A value the
generator cannot parse raises `Unparsable` when `strict` (ALLOW: istiod drops the whole rule) and is
skipped otherwise (DENY/AUDIT/CUSTOM: model.go checkError); None means every value was skipped.

meshgate has no mTLS peer, so the peer-identity kinds (principals, namespaces, serviceAccounts,
trustDomains, source.*) never match (Envoy's authenticated matcher is false without TLS) and their
`not*` forms always do. `experimental.envoy.filters.*` reads Envoy dynamic metadata: the only metadata
meshgate has is the jwt_authn `payload`, an object, which no string or list matcher matches — so these
keys never match either (their key must still parse, as in envoyFilterGenerator).

`broad` (meshgate, docs/security.md "Repeated headers and hosts") is set where a match leads toward a
denial — DENY/CUSTOM/AUDIT values and ALLOW `not*` values: there `request.headers[...]` also matches the
joined value and `hosts` also match the host without its port and trailing dot. Where a match allows
(ALLOW values, DENY `not*` values) headers match only the joined value and hosts keep Envoy's semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from meshgate.authz.addresses import ip_field, port_set
from meshgate.authz.match import (
    StrMatch,
    Unparsable,
    any_of,
    header_matcher,
    host_matcher,
    host_variants,
    string_matcher,
)
from meshgate.authz.path_template import is_path_template, path_template_matcher
from meshgate.authz.principal import (
    audiences_matcher,
    claim_matcher,
    claim_path,
    presenter_matcher,
    request_principal_matcher,
)
from meshgate.authz.request import AuthzRequest, Predicate

# `when` keys (istio/istio:pilot/pkg/security/authz/model/model.go attr* constants).
REQUEST_HEADERS = "request.headers"
REQUEST_CLAIMS = "request.auth.claims"
ENVOY_FILTERS = "experimental.envoy.filters."
PERMISSION_KEYS = frozenset({"destination.ip", "destination.port", "connection.sni"})
PRINCIPAL_KEYS = frozenset(
    {
        "source.ip",
        "remote.ip",
        "source.namespace",
        "source.serviceAccount",
        "source.principal",
        "source.trustDomain",
        "request.auth.principal",
        "request.auth.audiences",
        "request.auth.presenter",
    }
)
# Envoy's header map keeps these as pseudo-headers; HTTP/1 `Host` is `:authority` (a `host` lookup finds
# it too, observed on Envoy 1.40). `:path` here lacks the query Envoy's `:path` has (documented gap).
_PSEUDO_HEADERS: dict[str, Callable[[AuthzRequest], str]] = {
    ":authority": lambda r: r.host,
    "host": lambda r: r.host,
    ":method": lambda r: r.method,
    ":path": lambda r: r.path,
}


_OWS = " \t"  # RFC 9110 §5.5: a field value has no leading or trailing whitespace


class UnknownKey(ValueError):
    """A `when` key Istio does not know: the rule is skipped for every action (model.go New)."""


def always(_: AuthzRequest) -> bool:
    return True


def never(_: AuthzRequest) -> bool:
    return False


def when_side(key: str) -> str:
    """Which side of the RBAC policy a `when` key joins: "permission" (to) or "principal" (from)."""
    if key in PERMISSION_KEYS or key.startswith(ENVOY_FILTERS):
        return "permission"
    if key in PRINCIPAL_KEYS or key.startswith(REQUEST_HEADERS) or key.startswith(REQUEST_CLAIMS):
        return "principal"
    raise UnknownKey(f"unknown attribute {key}")


def field_predicate(kind: str, values: Sequence[str], strict: bool, broad: bool = False) -> Predicate | None:
    """OR of `values` for field/key `kind` (Source/Operation field names use their `when` key)."""
    if kind in _MTLS_KINDS:
        return never
    if kind.startswith(ENVOY_FILTERS):
        return _envoy_filter(kind, strict)
    if kind.startswith(REQUEST_HEADERS):
        return _header(kind, values, strict, broad)
    if kind == "hosts" and broad:
        return _broad_hosts(values, strict)
    if kind.startswith(REQUEST_CLAIMS):
        return _claims(kind, values, strict)
    build = _BUILDERS.get(kind)
    if build is None:
        raise UnknownKey(f"unknown attribute {kind}")
    return build(values, strict)


def _keep(
    values: Sequence[str], build_one: Callable[[str], StrMatch | None], strict: bool
) -> list[StrMatch | None]:
    kept: list[StrMatch | None] = []
    for value in values:
        try:
            kept.append(build_one(value))
        except Unparsable:
            if strict:
                raise
    return kept


def _string_field(
    attribute: Callable[[AuthzRequest], str], build_one: Callable[[str], StrMatch | None]
) -> Callable[[Sequence[str], bool], Predicate | None]:
    """A field over one request attribute; a None matcher is presence, always true for it."""

    def build(values: Sequence[str], strict: bool) -> Predicate | None:
        kept = _keep(values, build_one, strict)
        if not kept:
            return None
        if any(m is None for m in kept):
            return always
        match = any_of([m for m in kept if m is not None])
        return lambda r: match(attribute(r))

    return build


def _path_value(value: str) -> StrMatch:
    return path_template_matcher(value) if is_path_template(value) else string_matcher(value)


def _principals(values: Sequence[str], strict: bool) -> Predicate | None:
    matchers = [request_principal_matcher(v) for v in values]
    if len(matchers) == 1:  # the common policy names one principal (or `*`): no generator per request
        only = matchers[0]
        return lambda r: only(r.identity)
    return lambda r: any(m(r.identity) for m in matchers)


def _identity_field(
    make: Callable[[Sequence[str]], Callable[..., bool]],
) -> Callable[[Sequence[str], bool], Predicate | None]:
    def build(values: Sequence[str], strict: bool) -> Predicate | None:
        match = make(values)
        return lambda r: match(r.identity)

    return build


def _claims(key: str, values: Sequence[str], strict: bool) -> Predicate | None:
    try:
        path = claim_path(key.removeprefix(REQUEST_CLAIMS))
    except Unparsable:
        if strict:
            raise
        return None
    match = claim_matcher(path, values)
    return lambda r: match(r.identity)


def _broad_hosts(values: Sequence[str], strict: bool) -> Predicate | None:
    """`hosts` toward a denial: the host as sent, or without its port and trailing dot, matches."""
    kept = _keep(values, host_matcher, strict)
    if not kept:
        return None
    if any(m is None for m in kept):
        return always
    match = any_of([m for m in kept if m is not None])
    return lambda r: any(match(h) for h in host_variants(r.host))


def _header(key: str, values: Sequence[str], strict: bool, broad: bool) -> Predicate | None:
    """request.headers[name] over the header's lines; `host` is the Host/`:authority`.

    Observed on Envoy 1.40 (RBAC header principal, two `x-m` lines `c` and `b`): exact `b` matches,
    exact `c,b` does not; one line `a,b` matches exact `a,b` only — any ONE line matches. A line is read
    without surrounding spaces and tabs, as Envoy's HTTP/1 codec stores it (`x-block: yes ` matches exact
    `yes` there; tests/parity/test_deviations.py). meshgate
    (docs/security.md): toward an allow only the lines joined with `,` match; toward a denial any one
    line or the joined value does.
    """
    inner = key.removeprefix(REQUEST_HEADERS)
    if not (inner.startswith("[") and inner.endswith("]")) or len(inner) < 2:
        if strict:
            raise Unparsable(f"expecting format [<NAME>], but found {inner}")
        return None
    name = inner[1:-1].lower()
    kept = [header_matcher(v) for v in values]
    match = None if any(m is None for m in kept) else any_of([m for m in kept if m is not None])
    pseudo = _PSEUDO_HEADERS.get(name)

    def matches(r: AuthzRequest) -> bool:
        lines = (pseudo(r),) if pseudo is not None else r.headers.get(name)
        if lines is None:
            return False
        if match is None:
            return True
        if len(lines) == 1:
            return match(lines[0].strip(_OWS))
        trimmed = [line.strip(_OWS) for line in lines]
        return (broad and any(match(line) for line in trimmed)) or match(",".join(trimmed))

    return matches


def _envoy_filter(key: str, strict: bool) -> Predicate | None:
    """envoyFilterGenerator: `experimental.envoy.filters.a.b[c]` must split into a filter and a key."""
    if "[" not in key.removeprefix("experimental.").removesuffix("]"):
        if strict:
            raise Unparsable(f"invalid key: {key}")
        return None
    return never


_MTLS_KINDS = frozenset(
    {
        "principals",
        "namespaces",
        "serviceAccounts",
        "trustDomains",
        "source.principal",
        "source.namespace",
        "source.serviceAccount",
        "source.trustDomain",
    }
)

_BUILDERS: dict[str, Callable[[Sequence[str], bool], Predicate | None]] = {
    "hosts": _string_field(lambda r: r.host, host_matcher),
    "methods": _string_field(lambda r: r.method, header_matcher),
    "paths": _string_field(lambda r: r.path, _path_value),
    "ports": port_set,
    "destination.port": port_set,
    "ipBlocks": ip_field(lambda r: r.source_ip),
    "source.ip": ip_field(lambda r: r.source_ip),
    "remoteIpBlocks": ip_field(lambda r: r.remote_ip),
    "remote.ip": ip_field(lambda r: r.remote_ip),
    "destination.ip": ip_field(lambda r: r.destination_ip),
    "connection.sni": _string_field(lambda r: r.sni, string_matcher),
    "requestPrincipals": _principals,
    "request.auth.principal": _principals,
    "request.auth.audiences": _identity_field(audiences_matcher),
    "request.auth.presenter": _identity_field(presenter_matcher),
}
