"""Fuzz the matchers, the Authorizer and the whole Engine.decide on random policies and requests."""

from __future__ import annotations

import json
import time

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings, run
from tests.golden.cases import CASES, DEMO_JWT, GROUPS_JWT, OTHER_ISSUER_JWT

from meshgate.authn.query import without_params
from meshgate.authz.authorizer import Authorizer
from meshgate.authz.match import host_variants
from meshgate.authz.request import AuthzRequest
from meshgate.authz.result import AuthzResult
from meshgate.config.load import load_text
from meshgate.config.model import Action, AuthorizationPolicy, Condition, Operation, Rule, Source
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.engine import Engine
from meshgate.engine.options import EngineOptions, PathNormalization
from meshgate.engine.pathnorm import normalize_path

WORDS = st.sampled_from(
    ["*", "", "a", "*a", "a*", "*.com", "example.com", "Example.COM:80", "/admin", "/admin/*", "/{*}/x",
     "/{**}", "GET", "80", "70000", "-1", "10.0.0.0/8", "::1", "bad/ip", "x*y", "[", "a,b", "é"]
)  # fmt: skip
KEYS = st.sampled_from(
    ["request.headers[x-a]", "request.headers[host]", "request.headers[:path]", "request.headers", "source.ip",
     "remote.ip", "destination.port", "connection.sni", "request.auth.principal", "request.auth.claims[a][b]",
     "request.auth.claims[", "request.auth.audiences", "experimental.envoy.filters.x[y]", "unknown.key"]
)  # fmt: skip
VALUES = st.none() | st.lists(WORDS, max_size=3).map(tuple)
OPERATIONS = st.builds(
    Operation, hosts=VALUES, not_hosts=VALUES, methods=VALUES, paths=VALUES, not_paths=VALUES, ports=VALUES
)
SOURCES = st.builds(
    Source,
    request_principals=VALUES,
    not_request_principals=VALUES,
    ip_blocks=VALUES,
    remote_ip_blocks=VALUES,
)
RULES = st.builds(
    Rule,
    from_=st.none() | st.lists(SOURCES, max_size=2).map(tuple),
    to=st.none() | st.lists(OPERATIONS, max_size=2).map(tuple),
    when=st.none() | st.lists(st.builds(Condition, KEYS, VALUES, VALUES), max_size=2).map(tuple),
)
POLICIES = st.builds(
    AuthorizationPolicy,
    name=st.sampled_from(["p", "q"]),
    namespace=st.just("ns"),
    action=st.sampled_from([Action.ALLOW, Action.DENY, Action.AUDIT, Action.CUSTOM]),
    rules=st.lists(RULES, max_size=3).map(tuple),
    provider=st.sampled_from([None, "ext", "other"]),
    dry_run=st.booleans(),
)
HEADER_VALUES = st.lists(WORDS | st.text(max_size=8), min_size=1, max_size=3).map(tuple)
REQUESTS = st.builds(
    AuthzRequest,
    method=st.sampled_from(["GET", "POST", "get", ""]),
    host=WORDS | st.text(max_size=12),
    path=WORDS | st.text(max_size=12),
    port=st.integers(0, 70000),
    headers=st.dictionaries(st.sampled_from(["x-a", "host", "x-b"]), HEADER_VALUES, max_size=3),
    source_ip=st.sampled_from(["10.0.0.1", "::1", "not-an-ip", ""]),
    remote_ip=st.sampled_from(["10.0.0.1", "::ffff:10.0.0.1", ""]),
    destination_ip=st.just("10.0.0.3"),
    sni=st.text(max_size=6),
    identity=st.none(),
)


@fuzz_settings(200)
@given(st.lists(POLICIES, max_size=3), REQUESTS)
def _authorize(policies: list[AuthorizationPolicy], request: AuthzRequest) -> None:
    result = Authorizer(policies, frozenset({"ext"})).authorize(request)
    assert isinstance(result, AuthzResult) and isinstance(result.allowed, bool)


def test_authorizer_never_raises() -> None:
    run(_authorize)


@fuzz_settings(200)
@given(st.sampled_from(["secret.example.com", "*.example.com", "secret.*"]), st.data())
def _deny_host(pattern: str, data: st.DataObject) -> None:
    """A DENY host rule also catches case, trailing dots and a port (docs/security.md)."""
    host = "secret.example.com"
    host = "".join(c.upper() if data.draw(st.booleans()) else c for c in host)
    host += "." * data.draw(st.integers(0, 2)) + data.draw(st.sampled_from(["", ":80", ":8443", ":"]))
    deny = AuthorizationPolicy("d", "ns", Action.DENY, (Rule(to=(Operation(hosts=(pattern,)),)),))
    request = AuthzRequest("GET", host, "/", 80, {}, "10.0.0.1", "10.0.0.1", "10.0.0.3", "", None)
    assert not Authorizer([deny], frozenset()).authorize(request).allowed, (host, host_variants(host))


def test_deny_host_rules_catch_every_spelling() -> None:
    run(_deny_host)


CONFIG = "\n---\n".join(dict.fromkeys(case.config for case in CASES))
TOKENS = st.sampled_from([DEMO_JWT, GROUPS_JWT, OTHER_ISSUER_JWT, "invalidToken", DEMO_JWT + "x", ""])
ENGINES = {
    (mode, hops): Engine(
        load_text(CONFIG).resources.request_authentications,
        load_text(CONFIG).resources.authorization_policies,
        EngineOptions(trusted_proxies=hops, path_normalization=mode),
    )
    for mode in PathNormalization
    for hops in (0, 2)
}
ATTRIBUTES = st.builds(
    RequestAttributes,
    method=st.sampled_from(["GET", "POST", "OPTIONS", "DELETE"]),
    path=st.one_of(st.text(max_size=30), WORDS, TOKENS.map(lambda t: f"/x?access_token={t}")),
    authority=WORDS | st.text(max_size=12),
    headers=st.dictionaries(
        st.sampled_from(["authorization", "x-block", "x-jwt-payload", "cookie", "origin", "x-forwarded-for"]),
        st.lists(
            TOKENS.map(lambda t: f"Bearer {t}") | WORDS | st.text(max_size=10), min_size=1, max_size=3
        ).map(tuple),
        max_size=4,
    ),
    peer_ip=st.sampled_from(["127.0.0.1", "127.0.0.2", "::1"]),
)


@fuzz_settings(300)
@given(ATTRIBUTES, st.sampled_from(sorted(ENGINES, key=str)))
def _decide(attrs: RequestAttributes, key: tuple[PathNormalization, int]) -> None:
    decision = ENGINES[key].decide(attrs, {}, time.time())
    assert decision.status in (200, 400, 401, 403), decision
    if decision.allowed:
        # a verified `access_token` parameter never reaches the upstream (no golden rule forwards it)
        normalized = normalize_path(attrs.path, key[0])
        assert normalized is not None and decision.upstream is not None
        assert decision.upstream.path == without_params(normalized, {"access_token"})
        assert "x-jwt-payload" in decision.upstream.remove or "x-jwt-payload" in dict(decision.upstream.set)
    json.dumps([decision.status, decision.body, decision.headers])  # the reply is plain text


def test_engine_decide_never_raises() -> None:
    run(_decide)
