"""Repeated headers and hosts toward a denial (docs/security.md "Repeated headers and hosts").

Envoy 1.40's RBAC (observed) matches `request.headers[...]` against any one header line and `hosts`
against the raw Host (case-insensitive since CVE-2021-39155, port and trailing dot kept). meshgate
matches broadly wherever a match denies — DENY values, ALLOW `not*` values: any line or the joined
value, the host without its port and trailing dots — and narrowly wherever a match allows.
Each row: action, rule, request changes, allowed?
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from meshgate.authz.authorizer import Authorizer
from meshgate.authz.match import host_variants
from meshgate.authz.request import AuthzRequest
from meshgate.config.model import Action, AuthorizationPolicy, Condition, Operation, Rule

BASE = AuthzRequest(
    method="GET",
    host="api.example.com",
    path="/",
    port=8080,
    headers={"x-role": ("user",)},
    source_ip="10.0.0.1",
    remote_ip="10.0.0.1",
    destination_ip="10.0.0.3",
    sni="",
    identity=None,
)
DENY, ALLOW = Action.DENY, Action.ALLOW


def allowed(action: Action, rule: Rule, **changes: Any) -> bool:
    policy = AuthorizationPolicy(name="p", namespace="ns", action=action, rules=(rule,))
    return Authorizer([policy], frozenset()).authorize(replace(BASE, **changes)).allowed


def hosts(*values: str, negate: bool = False) -> Rule:
    op = Operation(not_hosts=values) if negate else Operation(hosts=values)
    return Rule(to=(op,))


def header(*values: str, negate: bool = False) -> Rule:
    cond = (
        Condition("request.headers[x-role]", None, values)
        if negate
        else Condition("request.headers[x-role]", values)
    )
    return Rule(when=(cond,))


def roles(*lines: str) -> dict[str, Any]:
    return {"headers": {"x-role": lines}}


ROWS = [
    # hosts: a DENY rule also catches case, trailing dot and port (Envoy: only case)
    ("deny host exact", DENY, hosts("secret.example.com"), {"host": "secret.example.com"}, False),
    (
        "deny host case (CVE-2021-39155)",
        DENY,
        hosts("secret.example.com"),
        {"host": "SECRET.Example.COM"},
        False,
    ),
    (
        "deny host trailing dot (envoy allows)",
        DENY,
        hosts("secret.example.com"),
        {"host": "secret.example.com."},
        False,
    ),
    (
        "deny host two trailing dots",
        DENY,
        hosts("secret.example.com"),
        {"host": "secret.example.com.."},
        False,
    ),
    (
        "deny host port (envoy allows)",
        DENY,
        hosts("secret.example.com"),
        {"host": "secret.example.com:8080"},
        False,
    ),
    (
        "deny host dot+port+case",
        DENY,
        hosts("secret.example.com"),
        {"host": "Secret.Example.com.:443"},
        False,
    ),
    ("deny host prefix rule + port", DENY, hosts("secret.*"), {"host": "SECRET.example.com:80"}, False),
    ("deny host suffix rule + dot", DENY, hosts("*.internal"), {"host": "db.internal."}, False),
    (
        "deny host with port rule",
        DENY,
        hosts("secret.example.com:8080"),
        {"host": "secret.example.com.:8080"},
        False,
    ),
    ("deny ipv6 host port", DENY, hosts("[::1]"), {"host": "[::1]:8080"}, False),
    ("deny host other host passes", DENY, hosts("secret.example.com"), {"host": "public.example.com"}, True),
    ("deny host subdomain passes", DENY, hosts("secret.example.com"), {"host": "x.secret.example.com"}, True),
    (
        "allow notHosts is broad",
        ALLOW,
        hosts("secret.example.com", negate=True),
        {"host": "secret.example.com.:1"},
        False,
    ),
    # ALLOW hosts keep Envoy's exact semantics (port and dot matter)
    ("allow host exact", ALLOW, hosts("api.example.com"), {}, True),
    ("allow host case", ALLOW, hosts("api.example.com"), {"host": "API.example.com"}, True),
    (
        "allow host port not stripped",
        ALLOW,
        hosts("api.example.com"),
        {"host": "api.example.com:8080"},
        False,
    ),
    ("allow host dot not stripped", ALLOW, hosts("api.example.com"), {"host": "api.example.com."}, False),
    (
        "deny notHosts keeps envoy",
        DENY,
        hosts("api.example.com", negate=True),
        {"host": "api.example.com:1"},
        False,
    ),
    # repeated headers: DENY matches any line or the joined value
    ("deny header one line", DENY, header("admin"), roles("admin"), False),
    ("deny header any line", DENY, header("admin"), roles("user", "admin"), False),
    ("deny header joined value", DENY, header("user,admin"), roles("user", "admin"), False),
    ("deny header prefix on a later line", DENY, header("adm*"), roles("user", "admin"), False),
    ("deny header no line matches", DENY, header("root"), roles("user", "admin"), True),
    # a value is read without surrounding spaces/tabs, as Envoy's codec stores it (tests/parity/test_deviations.py)
    ("deny header trailing space", DENY, header("admin"), roles("admin "), False),
    ("deny header leading tab", DENY, header("admin"), roles("\tadmin"), False),
    ("deny header spaced later line", DENY, header("admin"), roles("user", " admin "), False),
    ("deny header spaced joined", DENY, header("user,admin"), roles("user ", " admin"), False),
    ("allow header trailing space", ALLOW, header("admin"), roles("admin\t"), True),
    ("allow header inner space kept", ALLOW, header("admin"), roles("ad min"), False),
    ("deny notValues narrow", DENY, header("user", negate=True), roles("user", "admin"), False),
    # ALLOW matches only the joined value (Envoy: any line)
    ("allow header one line", ALLOW, header("admin"), roles("admin"), True),
    ("allow header not on one line of several", ALLOW, header("admin"), roles("user", "admin"), False),
    ("allow header joined value", ALLOW, header("user,admin"), roles("user", "admin"), True),
    ("allow header presence", ALLOW, header("*"), roles("user", "admin"), True),
    ("allow notValues broad", ALLOW, header("admin", negate=True), roles("user", "admin"), False),
    ("allow notValues joined broad", ALLOW, header("user,admin", negate=True), roles("user", "admin"), False),
    ("allow notValues miss", ALLOW, header("root", negate=True), roles("user", "admin"), True),
]


@pytest.mark.parametrize(
    ("action", "rule", "changes", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_broad_toward_deny_narrow_toward_allow(
    action: Action, rule: Rule, changes: dict[str, Any], expected: bool
) -> None:
    assert allowed(action, rule, **changes) is expected


def test_custom_rules_match_broadly() -> None:
    """A CUSTOM rule is compiled like DENY: a broad match sends the request to the provider."""
    policy = AuthorizationPolicy(
        name="ext",
        namespace="ns",
        action=Action.CUSTOM,
        provider="authz",
        rules=(hosts("secret.example.com"),),
    )
    authorizer = Authorizer([policy], frozenset({"authz"}))
    assert authorizer.authorize(replace(BASE, host="secret.example.com.:80")).custom_provider == "authz"


@pytest.mark.parametrize(
    ("host", "variants"),
    [
        ("a.com", ("a.com",)),
        ("a.com.", ("a.com.", "a.com")),
        ("a.com:80", ("a.com:80", "a.com")),
        ("a.com.:80", ("a.com.:80", "a.com:80", "a.com.", "a.com")),
        ("[::1]:80", ("[::1]:80", "[::1]")),
        ("::1", ("::1",)),
        ("", ("",)),
    ],
)
def test_host_variants(host: str, variants: tuple[str, ...]) -> None:
    assert host_variants(host) == variants
