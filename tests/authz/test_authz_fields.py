"""One row per AuthorizationPolicy field and `when` key, positive and `not*` forms (docs/istio-semantics.md §5.3-§5.6).

Each row is one ALLOW rule: the request is allowed iff the rule matches. Sources:
istio/istio:pilot/pkg/security/authz/model/{model,generator}.go and matcher/*.go; the request.headers rows
marked "observed" come from the real Envoy 1.40 RBAC filter. Host and repeated-header rows toward a denial
are in test_authz_safe.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from meshgate.authn.identity import Identity
from meshgate.authz.authorizer import Authorizer
from meshgate.authz.request import AuthzRequest
from meshgate.config.model import Action, AuthorizationPolicy, Condition, Operation, Rule, Source

TOKEN = Identity(
    issuer="testing@secure.istio.io",
    subject="testing@secure.istio.io",
    claims={
        "iss": "testing@secure.istio.io",
        "sub": "testing@secure.istio.io",
        "aud": ["aud1", "aud2"],
        "azp": "presenter1",
        "groups": ["group1", "group2"],
        "nested": {"key": "value"},
        "n": 7,
    },
)
BASE = AuthzRequest(
    method="GET",
    host="example.com",
    path="/api/v1",
    port=8080,
    headers={"x-a": ("v",), "x-empty": ("",), "x-multi": ("c", "b")},
    source_ip="10.0.0.1",
    remote_ip="172.16.0.9",
    destination_ip="10.0.0.3",
    sni="",
    identity=TOKEN,
)


def allowed(rule: Rule, **changes: Any) -> bool:
    policy = AuthorizationPolicy(name="p", namespace="ns", action=Action.ALLOW, rules=(rule,))
    return Authorizer([policy], frozenset()).authorize(replace(BASE, **changes)).allowed


def to(**fields: Any) -> Rule:
    return Rule(to=(Operation(**fields),))


def frm(**fields: Any) -> Rule:
    return Rule(from_=(Source(**fields),))


def when(key: str, values: tuple[str, ...] | None = None, not_values: tuple[str, ...] | None = None) -> Rule:
    return Rule(when=(Condition(key, values, not_values),))


OPERATION_ROWS = [
    ("hosts exact, any case", to(hosts=("EXAMPLE.com",)), {}, True),
    ("hosts keep the port", to(hosts=("example.com",)), {"host": "example.com:8080"}, False),
    ("hosts with port wildcard", to(hosts=("example.com:*",)), {"host": "Example.com:8080"}, True),
    ("hosts suffix", to(hosts=("*.com",)), {}, True),
    ("hosts * = present", to(hosts=("*",)), {}, True),
    ("notHosts hit", to(not_hosts=("example.com",)), {}, False),
    ("notHosts miss", to(not_hosts=("other.com",)), {}, True),
    ("methods exact", to(methods=("GET",)), {}, True),
    ("methods case-sensitive", to(methods=("get",)), {}, False),
    ("methods *", to(methods=("*",)), {}, True),
    ("notMethods", to(not_methods=("GET", "POST")), {}, False),
    ("paths prefix", to(paths=("/api/*",)), {}, True),
    ("paths case-sensitive", to(paths=("/API/*",)), {}, False),
    ("paths suffix", to(paths=("*/v1",)), {}, True),
    ("paths exact", to(paths=("/api",)), {}, False),
    ("paths * = non-empty", to(paths=("*",)), {}, True),
    ("paths template", to(paths=("/api/{*}",)), {}, True),
    ("paths template one segment", to(paths=("/{*}",)), {}, False),
    ("notPaths hit", to(not_paths=("/api/*",)), {}, False),
    ("notPaths miss", to(not_paths=("/admin",)), {}, True),
    ("ports", to(ports=("8080",)), {}, True),
    ("ports other", to(ports=("80",)), {}, False),
    ("notPorts", to(not_ports=("80",)), {}, True),
    ("values AND notValues", to(paths=("/api/*",), not_paths=("/api/v1",)), {}, False),
]

SOURCE_ROWS = [
    ("principals never (no mTLS)", frm(principals=("*",)), {}, False),
    ("notPrincipals always", frm(not_principals=("cluster.local/ns/a/sa/b",)), {}, True),
    ("namespaces never", frm(namespaces=("*",)), {}, False),
    ("notNamespaces always", frm(not_namespaces=("ns",)), {}, True),
    ("serviceAccounts never", frm(service_accounts=("ns/sa",)), {}, False),
    ("notServiceAccounts always", frm(not_service_accounts=("sa",)), {}, True),
    ("trustDomains never", frm(trust_domains=("cluster.local",)), {}, False),
    ("notTrustDomains always", frm(not_trust_domains=("*",)), {}, True),
    (
        "requestPrincipals",
        frm(request_principals=("testing@secure.istio.io/testing@secure.istio.io",)),
        {},
        True,
    ),
    ("requestPrincipals * without token", frm(request_principals=("*",)), {"identity": None}, False),
    ("notRequestPrincipals * without token", frm(not_request_principals=("*",)), {"identity": None}, True),
    ("notRequestPrincipals * with token", frm(not_request_principals=("*",)), {}, False),
    ("ipBlocks CIDR", frm(ip_blocks=("10.0.0.0/8",)), {}, True),
    ("ipBlocks host bits set", frm(ip_blocks=("10.9.9.9/8",)), {}, True),
    ("ipBlocks single IP", frm(ip_blocks=("10.0.0.2",)), {}, False),
    ("ipBlocks is the peer, not remote", frm(ip_blocks=("172.16.0.9",)), {}, False),
    ("ipBlocks IPv6", frm(ip_blocks=("::1/128",)), {"source_ip": "::1"}, True),
    (
        "ipBlocks v4 CIDR vs v4-mapped v6 peer",
        frm(ip_blocks=("10.0.0.0/8",)),
        {"source_ip": "::ffff:10.0.0.1"},
        False,
    ),
    ("notIpBlocks", frm(not_ip_blocks=("10.0.0.0/8",)), {}, False),
    ("remoteIpBlocks", frm(remote_ip_blocks=("172.16.0.0/12",)), {}, True),
    ("remoteIpBlocks is not the peer", frm(remote_ip_blocks=("10.0.0.1",)), {}, False),
    ("notRemoteIpBlocks", frm(not_remote_ip_blocks=("10.0.0.1",)), {}, True),
]

WHEN_ROWS = [
    ("headers exact", when("request.headers[x-a]", ("v",)), {}, True),
    ("headers name case-insensitive", when("request.headers[X-A]", ("v",)), {}, True),
    ("headers value case-sensitive", when("request.headers[x-a]", ("V",)), {}, False),
    ("headers absent", when("request.headers[x-none]", ("*",)), {}, False),
    ("headers * = present even empty", when("request.headers[x-empty]", ("*",)), {}, True),
    ("notValues of absent header", when("request.headers[x-none]", None, ("v",)), {}, True),
    # Envoy 1.40 (observed) matches any one line: `b` allows, `c,b` does not. meshgate, toward an allow, matches
    # only the joined value (docs/security.md "Repeated headers and hosts"; DENY rows in test_authz_safe.py)
    ("headers one line of several does not allow", when("request.headers[x-multi]", ("b",)), {}, False),
    ("headers joined value allows", when("request.headers[x-multi]", ("c,b",)), {}, True),
    ("headers host is :authority (observed)", when("request.headers[host]", ("example.com",)), {}, True),
    ("headers :method", when("request.headers[:method]", ("GET",)), {}, True),
    ("source.ip", when("source.ip", ("10.0.0.0/24",)), {}, True),
    ("source.ip notValues", when("source.ip", None, ("10.0.0.1",)), {}, False),
    ("remote.ip", when("remote.ip", ("172.16.0.9",)), {}, True),
    ("remote.ip notValues", when("remote.ip", None, ("10.0.0.1",)), {}, True),
    ("destination.ip", when("destination.ip", ("10.0.0.3",)), {}, True),
    ("destination.ip notValues", when("destination.ip", None, ("10.0.0.3",)), {}, False),
    ("destination.port", when("destination.port", ("8080",)), {}, True),
    ("destination.port notValues", when("destination.port", None, ("8080",)), {}, False),
    ("connection.sni", when("connection.sni", ("*.example",)), {"sni": "api.example"}, True),
    ("connection.sni * without TLS", when("connection.sni", ("*",)), {}, False),
    ("connection.sni notValues", when("connection.sni", None, ("*",)), {}, True),
    ("source.namespace never", when("source.namespace", ("ns",)), {}, False),
    ("source.namespace notValues always", when("source.namespace", None, ("ns",)), {}, True),
    ("source.principal never", when("source.principal", ("*",)), {}, False),
    ("source.principal notValues", when("source.principal", None, ("*",)), {}, True),
    ("source.serviceAccount never", when("source.serviceAccount", ("ns/sa",)), {}, False),
    ("source.serviceAccount notValues", when("source.serviceAccount", None, ("sa",)), {}, True),
    ("source.trustDomain never", when("source.trustDomain", ("td",)), {}, False),
    ("source.trustDomain notValues", when("source.trustDomain", None, ("td",)), {}, True),
    ("request.auth.principal", when("request.auth.principal", ("*/testing@secure.istio.io",)), {}, True),
    ("request.auth.principal notValues", when("request.auth.principal", None, ("*",)), {}, False),
    ("request.auth.audiences list", when("request.auth.audiences", ("aud2",)), {}, True),
    ("request.auth.audiences miss", when("request.auth.audiences", ("aud3",)), {}, False),
    ("request.auth.audiences notValues", when("request.auth.audiences", None, ("aud3",)), {}, True),
    ("request.auth.presenter", when("request.auth.presenter", ("presenter*",)), {}, True),
    ("request.auth.presenter notValues", when("request.auth.presenter", None, ("presenter1",)), {}, False),
    ("request.auth.claims list", when("request.auth.claims[groups]", ("group1",)), {}, True),
    ("request.auth.claims nested", when("request.auth.claims[nested][key]", ("value",)), {}, True),
    ("request.auth.claims non-string", when("request.auth.claims[n]", ("7",)), {}, False),
    ("request.auth.claims notValues", when("request.auth.claims[groups]", None, ("group3",)), {}, True),
    (
        "request.auth.claims without token",
        when("request.auth.claims[groups]", ("*",)),
        {"identity": None},
        False,
    ),
    (
        "claims notValues without token",
        when("request.auth.claims[groups]", None, ("*",)),
        {"identity": None},
        True,
    ),
    (
        "experimental metadata never",
        when("experimental.envoy.filters.http.jwt_authn[payload]", ("*",)),
        {},
        False,
    ),
    (
        "experimental notValues",
        when("experimental.envoy.filters.http.jwt_authn[payload]", None, ("*",)),
        {},
        True,
    ),
]


@pytest.mark.parametrize(
    ("rule", "changes", "expected"),
    [row[1:] for row in OPERATION_ROWS + SOURCE_ROWS + WHEN_ROWS],
    ids=[row[0] for row in OPERATION_ROWS + SOURCE_ROWS + WHEN_ROWS],
)
def test_field(rule: Rule, changes: dict[str, Any], expected: bool) -> None:
    assert allowed(rule, **changes) is expected
