"""istiod's RequestAuthentication validation, plus the CRD constraints, over a decoded spec.

Source: istio/istio pkg/config/validation/validation.go (ValidateRequestAuthentication,
validateJwtRule — its errors carry no prefix, unlike AuthorizationPolicy's), agent.ValidateDuration;
CRD rules from istio/api kubernetes/customresourcedefinitions.gen.yaml. meshgate extension: a
`file://` jwksUri is accepted besides http(s).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from meshgate.config.govalues import parse_duration_ns
from meshgate.config.report import Reporter
from meshgate.config.schema import Path
from meshgate.config.validation.common import min_length_each, too_long, too_many, validate_selector_and_refs
from meshgate.jose.jwks import parse_jwks
from meshgate.jose.status import JwtStatus

MAX_JWT_RULES = 4096  # CRD maxItems
MAX_JWKS_URI = 2048  # CRD maxLength
MAX_SPACE_DELIMITED_CLAIMS = 64  # CRD maxItems
JWKS_URI_SCHEMES = frozenset({"http", "https", "file"})  # CRD allows http/https; file:// is meshgate's

ISSUER_OR_JWKS_URI = "issuer or jwksUri must be non-empty string"
AUDIENCE_EMPTY = "audience must be non-empty string"
JWKS_AND_URI = "only one of jwks or jwksUri can be set"  # CRD CEL
URL_SCHEME = "url must have scheme http:// or https://"  # CRD CEL
TIMEOUT_INVALID = "must be a valid duration greater than 1ms"  # CRD CEL
TIMEOUT_PRECISION = "only durations to ms precision are supported"  # agent.ValidateDuration
HEADER_NULL = "location header name must be non-null"
HEADER_EMPTY = "location header name must be non-empty string"
QUERY_EMPTY = "location query must be non-empty string"
COOKIE_EMPTY = "cookie name must be non-empty string"
CLAIM_HEADER_NULL = "outputClaimToHeaders must not be null"
CLAIM_HEADER_EMPTY = "outputClaimToHeaders header and claim value must be non-empty string"
PRIVATE_KEY = "jwks key at index {} contains private key material; only public keys are used for verification"
_STRICT_HEADER = re.compile(r"^[-_A-Za-z0-9]+$")  # validation.go validStrictHeaderNameRegex
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")  # RFC 7518 §6.2.2 / §6.3.2 private parameters


def validate_request_authentication(rep: Reporter, spec: dict[str, Any]) -> None:
    validate_selector_and_refs(rep, spec)
    rules = spec.get("jwtRules")
    too_many(rep, ("spec", "jwtRules"), rules, MAX_JWT_RULES)
    for i, rule in enumerate(rules or ()):
        if rule is not None:  # validateJwtRule(nil) is a no-op
            validate_jwt_rule(rep, ("spec", "jwtRules", i), rule)


def validate_jwt_rule(rep: Reporter, path: Path, rule: dict[str, Any]) -> None:
    for i, audience in enumerate(rule.get("audiences") or ()):
        if not audience:
            rep.invalid((*path, "audiences", i), AUDIENCE_EMPTY)
    issuer, uri = rule.get("issuer", ""), rule.get("jwksUri", "")
    if not issuer and not uri:
        rep.invalid(path, ISSUER_OR_JWKS_URI)
    if "jwks" in rule and "jwksUri" in rule:
        rep.error((*path, "jwks"), JWKS_AND_URI)
    if uri:
        _validate_jwks_uri(rep, (*path, "jwksUri"), uri)
    if rule.get("jwks"):
        _validate_inline_jwks(rep, (*path, "jwks"), rule["jwks"])
    for i, location in enumerate(rule.get("fromHeaders") or ()):
        if location is None:
            rep.invalid((*path, "fromHeaders", i), HEADER_NULL)
        elif not location.get("name"):
            rep.invalid((*path, "fromHeaders", i), HEADER_EMPTY)
    for i, param in enumerate(rule.get("fromParams") or ()):
        if not param:
            rep.invalid((*path, "fromParams", i), QUERY_EMPTY)
    for i, cookie in enumerate(rule.get("fromCookies") or ()):
        if not cookie:
            rep.invalid((*path, "fromCookies", i), COOKIE_EMPTY)
    for i, pair in enumerate(rule.get("outputClaimToHeaders") or ()):
        where = (*path, "outputClaimToHeaders", i)
        if pair is None:
            rep.invalid(where, CLAIM_HEADER_NULL)
        elif not pair.get("claim") or not pair.get("header"):
            rep.invalid(where, CLAIM_HEADER_EMPTY)
        elif not _STRICT_HEADER.match(pair["header"]):
            rep.invalid((*where, "header"), f"header name {pair['header']} is not a valid header name")
    if "timeout" in rule:
        _validate_timeout(rep, (*path, "timeout"), rule["timeout"])
    claims = rule.get("spaceDelimitedClaims")
    too_many(rep, (*path, "spaceDelimitedClaims"), claims, MAX_SPACE_DELIMITED_CLAIMS)
    min_length_each(rep, (*path, "spaceDelimitedClaims"), claims)


def _validate_jwks_uri(rep: Reporter, path: Path, uri: str) -> None:
    too_long(rep, path, uri, MAX_JWKS_URI)
    try:
        scheme = urlsplit(uri).scheme.lower()
    except ValueError:  # e.g. an unbalanced `[` in the host
        scheme = ""
    if scheme not in JWKS_URI_SCHEMES:
        rep.error(path, URL_SCHEME)


def _validate_timeout(rep: Reporter, path: Path, text: str) -> None:
    ns = parse_duration_ns(text)
    if ns is None or ns < 1_000_000:
        rep.error(path, TIMEOUT_INVALID)
    elif ns % 1_000_000:
        rep.invalid(path, TIMEOUT_PRECISION)


def timeout_seconds(text: str | None, default: float) -> float:
    ns = parse_duration_ns(text) if text is not None else None
    return default if ns is None else ns / 1e9


def _validate_inline_jwks(rep: Reporter, path: Path, text: str) -> None:
    """istiod parses inline jwks (lestrrat-go/jwx); meshgate uses its own JWKS parser, as Envoy will."""
    message = _jwks_error(text)
    if message is not None:
        rep.invalid(path, f"jwks parse error: {message}")
        return
    for index in _private_key_indexes(text):
        rep.warn(path, PRIVATE_KEY.format(index))


def _jwks_error(text: str) -> str | None:
    keyset = parse_jwks(text)
    return None if keyset.status is JwtStatus.OK else keyset.status.value


def _private_key_indexes(text: str) -> list[int]:
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    keys = doc.get("keys") if isinstance(doc, dict) else None
    entries = keys if isinstance(keys, list) else [doc]
    return [
        i
        for i, key in enumerate(entries)
        if isinstance(key, dict) and key.get("kty") != "oct" and any(m in key for m in _PRIVATE_MEMBERS)
    ]
