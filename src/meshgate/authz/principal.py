"""`request.auth.*` matchers over the verified JWT payload (docs/istio-semantics.md §5.3, §5.5).

Envoy reads these from the jwt_authn dynamic metadata (`envoy.filters.http.jwt_authn` / `payload`), so
without a verified token nothing positive matches (and every `not*` form does). Sources:
istio/istio:pilot/pkg/security/authz/model/generator.go (requestPrincipalGenerator,
requestAudiencesGenerator, requestPresenterGenerator, requestClaimGenerator) and model/util.go
(extractNameInNestedBrackets, MetadataListValueMatcherForJWTClaims).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from meshgate.authn.identity import Identity
from meshgate.authz.match import (
    StrMatch,
    Unparsable,
    ValueMatch,
    any_of,
    exact_matcher,
    list_or_value_matcher,
    non_empty_matcher,
    prefix_matcher,
    string_matcher,
    suffix_matcher,
    value_matcher,
)

IdentityMatch = Callable[[Identity | None], bool]
_MISSING = object()


def request_principal_matcher(value: str) -> IdentityMatch:
    """One requestPrincipals value: split at the LAST `/` into iss and sub (generator.go).

    `*` → both non-empty; `*x` → with `/`: iss suffix (any if `*`) and sub exact, else iss any and sub
    suffix; `x*` → with `/`: iss exact and sub prefix (any if `*`), else iss prefix and sub any;
    otherwise iss and sub exact (no `/` → sub must be ""). Both claims must be strings.
    """
    idx = value.rfind("/")
    found = idx >= 0
    iss, sub = (value[:idx], value[idx + 1 :]) if found else (value, "")
    match_iss: StrMatch
    match_sub: StrMatch
    if value == "*":
        match_iss, match_sub = non_empty_matcher(), non_empty_matcher()
    elif value.startswith("*"):
        if found:
            match_iss = non_empty_matcher() if iss == "*" else suffix_matcher(iss[1:])
            match_sub = exact_matcher(sub)
        else:
            match_iss, match_sub = non_empty_matcher(), suffix_matcher(value[1:])
    elif value.endswith("*"):
        if found:
            match_iss = exact_matcher(iss)
            match_sub = non_empty_matcher() if sub == "*" else prefix_matcher(sub[:-1])
        else:
            match_iss, match_sub = prefix_matcher(value[:-1]), non_empty_matcher()
    else:
        match_iss, match_sub = exact_matcher(iss), exact_matcher(sub)
    iss_ok, sub_ok = value_matcher(match_iss), value_matcher(match_sub)

    def matches(identity: Identity | None) -> bool:
        if identity is None:
            return False
        claims = identity.claims
        return iss_ok(claims.get("iss")) and sub_ok(claims.get("sub"))

    return matches


def claim_path(inner: str) -> tuple[str, ...]:
    """extractNameInNestedBrackets on the text after `request.auth.claims`: `[a][b]` → (a, b).

    If the brackets do not parse as a sequence, the whole `[...]` content is one claim name; a key
    not of the form `[...]` is Unparsable.
    """
    claims: list[str] = []
    begin = 0
    while begin < len(inner):
        end = _end_bracket(inner, begin)
        if end < 0:
            return (_name_in_brackets(inner),)
        claims.append(inner[begin + 1 : end])
        begin = end + 1
    return tuple(claims)  # empty key: the payload itself, an object, which never matches


def _end_bracket(text: str, begin: int) -> int:
    if begin >= len(text) or text[begin] != "[":
        return -1
    for i in range(begin + 1, len(text)):
        if text[i] == "[":
            return -1
        if text[i] == "]":
            return i
    return -1


def _name_in_brackets(text: str) -> str:
    """extractNameInBrackets: `[NAME]` → NAME."""
    if not text.startswith("[") or not text.endswith("]"):
        raise Unparsable(f"expecting format [<NAME>], but found {text}")
    return text.removeprefix("[").removesuffix("]")


def claim_matcher(path: Sequence[str], values: Sequence[str]) -> IdentityMatch:
    """A claim at `path` (nested objects) matching any of `values`, directly or as a list element."""
    match = list_or_value_matcher(any_of([string_matcher(v) for v in values]))
    keys = tuple(path)

    def matches(identity: Identity | None) -> bool:
        if identity is None:
            return False
        value = _lookup(identity.claims, keys)
        return value is not _MISSING and match(value)

    return matches


def _lookup(claims: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """Envoy Metadata::metadataValue: walk struct fields; a missing key or a non-object stops it."""
    node: Any = claims
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def audiences_matcher(values: Sequence[str]) -> IdentityMatch:
    """request.auth.audiences: the `aud` claim (string or list)."""
    return claim_matcher(("aud",), values)


def presenter_matcher(values: Sequence[str]) -> IdentityMatch:
    """request.auth.presenter: the `azp` claim."""
    return claim_matcher(("azp",), values)


__all__ = [
    "IdentityMatch",
    "ValueMatch",
    "audiences_matcher",
    "claim_matcher",
    "claim_path",
    "presenter_matcher",
    "request_principal_matcher",
]
