"""Metrics under Envoy/Istio names: exposition checked line by line (Envoy 1.40 prints counters as
`# TYPE <name> counter` + `<name>{envoy_http_conn_manager_prefix="..."} N`, no `_total`)."""

from __future__ import annotations

from typing import Any

import pytest

from meshgate.authn.result import AuthnTrace
from meshgate.authz.result import AuthzTrace
from meshgate.engine.decision import Decision, Trace
from meshgate.server.metrics import Metrics


def decision(
    authn: str, authz: str, status: str = "", shadow: tuple[str, ...] = (), code: int = 200
) -> Decision:
    trace = Trace(AuthnTrace(outcome=authn, status=status), AuthzTrace(outcome=authz, shadow=shadow))
    return Decision(code == 200, code, "", (), None, trace)


def lines(m: Metrics) -> set[str]:
    return set(m.render().decode().splitlines())


def envoy(name: str, value: int) -> str:
    return f'{name}{{envoy_http_conn_manager_prefix="meshgate"}} {value}'


JWT, RBAC = "envoy_http_jwt_authn_", "envoy_http_rbac_"
SHADOW_DENY = ("ns[a]-policy[b]-rule[0] (DENY)",)
SHADOW_ALLOW = ("ns[a]-policy[b]-rule[0] (ALLOW)",)


@pytest.mark.parametrize(
    ("d", "moved"),
    [
        pytest.param(decision("verified", "allowed"), {JWT + "allowed", RBAC + "allowed"}, id="verified"),
        pytest.param(
            decision("no token", "denied", code=403), {JWT + "allowed", RBAC + "denied"}, id="no-token"
        ),
        # jwt_authn answered the request: RBAC never ran (filter order, docs/istio-semantics.md §3.2)
        pytest.param(
            decision("failed", "allowed", "Jwt is expired", code=401), {JWT + "denied"}, id="jwt-failed"
        ),
        pytest.param(decision("no rules", "allowed"), {RBAC + "allowed"}, id="no-jwt-filter"),
        pytest.param(
            decision("bypassed (CORS preflight)", "allowed"),
            {JWT + "cors_preflight_bypassed", RBAC + "allowed"},
            id="cors-preflight",
        ),
        pytest.param(
            decision("no rules", "allowed", shadow=SHADOW_DENY),
            {RBAC + "allowed", RBAC + "shadow_denied"},
            id="shadow-deny",
        ),
        pytest.param(
            decision("no rules", "allowed", shadow=SHADOW_ALLOW),
            {RBAC + "allowed", RBAC + "shadow_allowed"},
            id="shadow-allow",
        ),
        pytest.param(decision("not evaluated", "not evaluated", code=400), set(), id="bad-path-400"),
    ],
)
def test_envoy_filter_counters(d: Decision, moved: set[str]) -> None:
    m = Metrics()
    m.observe_request(d, d.status, 0.001)
    assert {name for name, n in m.envoy.items() if n} == moved
    for name in moved:
        assert f"# TYPE {name} counter" in lines(m) and envoy(name, 1) in lines(m)


def test_istio_requests_and_jwt_denials_by_status() -> None:
    m = Metrics()
    m.observe_request(decision("failed", "", "Jwt is expired", code=401), 401, 0.002)
    m.observe_request(decision("failed", "", "Jwt is expired", code=401), 401, 0.002)
    m.observe_request(decision("verified", "allowed"), 200, 0.004)
    m.observe_request(None, 503, 0.001, "UF")
    out = lines(m)
    base = 'reporter="destination",request_protocol="http"'
    assert f'istio_requests_total{{{base},response_code="401",response_flags="-"}} 2.0' in out
    assert f'istio_requests_total{{{base},response_code="200",response_flags="-"}} 1.0' in out
    assert f'istio_requests_total{{{base},response_code="503",response_flags="UF"}} 1.0' in out
    assert 'meshgate_jwt_authn_denied_total{status="Jwt is expired"} 2.0' in out


@pytest.mark.parametrize(
    ("duration_s", "first_bucket"),
    [(0.0004, "0.5"), (0.0005, "0.5"), (0.0006, "1"), (0.004, "5"), (2.0, "2500"), (7200.0, "+Inf")],
)
def test_duration_histogram_uses_istio_buckets(duration_s: float, first_bucket: str) -> None:
    m = Metrics()
    m.observe_request(None, 200, duration_s)
    prefix = "istio_request_duration_milliseconds_bucket{le="
    filled = [line for line in lines(m) if line.startswith(prefix) and line.endswith(" 1.0")]
    bounds = [line[len(prefix) + 1 :].split('"')[0] for line in filled]
    all_bounds = ["0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000",
                  "30000", "60000", "300000", "600000", "1800000", "3600000", "+Inf"]  # fmt: skip
    assert sorted(bounds) == sorted(all_bounds[all_bounds.index(first_bucket) :])


class FakeKeys:
    def state(self) -> list[dict[str, Any]]:
        return [
            {"uri": "https://a/jwks", "age_s": 12.5, "fetches": {"success": 3, "failure": 1, "refetch": 0}},
            {"uri": "https://b/jwks", "age_s": None, "fetches": {"success": 0, "failure": 4, "refetch": 0}},
        ]


def test_jwks_metrics_are_read_from_the_key_store() -> None:
    m = Metrics()
    m.bind_keystore(FakeKeys())
    out = lines(m)
    assert 'meshgate_jwks_fetch_total{result="success",uri="https://a/jwks"} 3.0' in out
    assert 'meshgate_jwks_fetch_total{result="failure",uri="https://b/jwks"} 4.0' in out
    assert 'meshgate_jwks_age_seconds{uri="https://a/jwks"} 12.5' in out
    assert not any(line.startswith('meshgate_jwks_age_seconds{uri="https://b') for line in out)
    assert envoy("envoy_http_jwt_authn_jwks_fetch_success", 3) in out
    assert envoy("envoy_http_jwt_authn_jwks_fetch_failed", 5) in out


def test_reload_counters() -> None:
    m = Metrics()
    m.observe_reload(True)
    m.observe_reload(False)
    m.observe_reload(False)
    out = lines(m)
    assert 'meshgate_config_reload_total{result="success"} 1.0' in out
    assert 'meshgate_config_reload_total{result="rejected"} 2.0' in out


def test_each_instance_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.observe_reload(True)
    assert 'meshgate_config_reload_total{result="success"} 0.0' in lines(b)
