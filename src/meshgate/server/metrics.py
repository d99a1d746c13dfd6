"""Request, JWKS and reload metrics, exported in Prometheus text under Envoy/Istio names where they exist.

Per-request work is a few dict increments (no locks: one event loop per process). Envoy's own counters
are rendered exactly as Envoy's `/stats/prometheus` does — `# TYPE <name> counter` and no `_total`
suffix (checked against Envoy 1.40: `envoy_http_jwt_authn_allowed{envoy_http_conn_manager_prefix=..}`);
Istio's and meshgate's go through prometheus-client with one CollectorRegistry per instance.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from meshgate.engine.decision import Decision

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Istio's default buckets for istio_request_duration_milliseconds (istio/proxy stats plugin).
DURATION_BUCKETS_MS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
                       300000, 600000, 1800000, 3600000)  # fmt: skip
# Envoy stats (envoyproxy/envoy: jwt_authn/stats.h, rbac/rbac_filter.h) as Prometheus names.
JWT_ALLOWED = "envoy_http_jwt_authn_allowed"
JWT_DENIED = "envoy_http_jwt_authn_denied"
JWT_CORS_BYPASSED = "envoy_http_jwt_authn_cors_preflight_bypassed"
JWT_JWKS_FETCH_SUCCESS = "envoy_http_jwt_authn_jwks_fetch_success"
JWT_JWKS_FETCH_FAILED = "envoy_http_jwt_authn_jwks_fetch_failed"
RBAC_ALLOWED = "envoy_http_rbac_allowed"
RBAC_DENIED = "envoy_http_rbac_denied"
RBAC_SHADOW_ALLOWED = "envoy_http_rbac_shadow_allowed"
RBAC_SHADOW_DENIED = "envoy_http_rbac_shadow_denied"
ENVOY_COUNTERS = (JWT_ALLOWED, JWT_CORS_BYPASSED, JWT_DENIED, JWT_JWKS_FETCH_FAILED, JWT_JWKS_FETCH_SUCCESS,
                  RBAC_ALLOWED, RBAC_DENIED, RBAC_SHADOW_ALLOWED, RBAC_SHADOW_DENIED)  # fmt: skip


class KeyStateSource(Protocol):
    """What metrics read of the key store at scrape time (KeyStore.state())."""

    def state(self) -> list[dict[str, Any]]: ...


class VerifiedTokensSource(Protocol):
    """What metrics read of the verified-token cache at scrape time (authn/verified_tokens.py)."""

    @property
    def hits(self) -> int: ...
    @property
    def misses(self) -> int: ...
    def __len__(self) -> int: ...


class Metrics:
    """Counters fed by the fronts (`observe_request`), the reloader and, at scrape time, the key store."""

    def __init__(self, *, stat_prefix: str = "meshgate") -> None:
        self.stat_prefix = stat_prefix
        self.registry = CollectorRegistry(auto_describe=False)
        self.envoy: dict[str, int] = dict.fromkeys(ENVOY_COUNTERS, 0)
        self.requests: dict[tuple[int, str], int] = {}  # (response_code, response_flags) → count
        self.durations: dict[int, list[float]] = {}  # response_code → per-bucket counts + [sum]
        self.jwt_denied: dict[str, int] = {}  # jwt_verify_lib message → count
        self.reloads: dict[str, int] = {"success": 0, "rejected": 0}
        self.keystore: KeyStateSource | None = None
        self.verified_tokens: VerifiedTokensSource | None = None
        self.registry.register(_Collector(self))

    def bind_keystore(self, keystore: KeyStateSource) -> None:
        """JWKS fetch counts and ages are read from the key store when scraped."""
        self.keystore = keystore

    def bind_verified_tokens(self, cache: VerifiedTokensSource) -> None:
        """Verified-token cache hits, misses and size are read from the cache when scraped."""
        self.verified_tokens = cache

    def observe_request(
        self, decision: Decision | None, response_code: int, duration_s: float, response_flags: str = "-"
    ) -> None:
        """One answered request: a few dict increments keyed by ints (strings are made at scrape time)."""
        key = (response_code, response_flags)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        buckets = self.durations.get(response_code)
        if buckets is None:
            buckets = self.durations[response_code] = [0.0] * (len(DURATION_BUCKETS_MS) + 2)
        ms = duration_s * 1000.0
        buckets[bisect_left(DURATION_BUCKETS_MS, ms)] += 1
        buckets[-1] += ms
        if decision is not None:
            self._observe_filters(decision)

    def _observe_filters(self, decision: Decision) -> None:
        """Which of Envoy's filter counters this decision moves (jwt_authn, then RBAC if reached)."""
        authn = decision.trace.authn
        outcome = authn.outcome
        if outcome == "failed":
            self.envoy[JWT_DENIED] += 1
            self.jwt_denied[authn.status] = self.jwt_denied.get(authn.status, 0) + 1
            return  # jwt_authn answered: RBAC never ran
        if outcome in ("verified", "no token"):
            self.envoy[JWT_ALLOWED] += 1
        elif outcome.startswith("bypassed"):
            self.envoy[JWT_CORS_BYPASSED] += 1
        authz = decision.trace.authz
        if authz.outcome == "allowed":
            self.envoy[RBAC_ALLOWED] += 1
        elif authz.outcome == "denied":
            self.envoy[RBAC_DENIED] += 1
        if authz.shadow:
            denied = any("deny" in s.lower() for s in authz.shadow)
            self.envoy[RBAC_SHADOW_DENIED if denied else RBAC_SHADOW_ALLOWED] += 1

    def observe_reload(self, accepted: bool) -> None:
        self.reloads["success" if accepted else "rejected"] += 1

    def render(self) -> bytes:
        """The `/stats/prometheus` body: Envoy's counters first, then Istio's and meshgate's."""
        self._sync_jwks_counters()
        label = f'{{envoy_http_conn_manager_prefix="{_escape(self.stat_prefix)}"}}'
        envoy = "".join(f"# TYPE {n} counter\n{n}{label} {self.envoy[n]}\n" for n in sorted(self.envoy))
        return envoy.encode() + generate_latest(self.registry)

    def _sync_jwks_counters(self) -> None:
        states = self.keystore.state() if self.keystore else []
        self.envoy[JWT_JWKS_FETCH_SUCCESS] = sum(s["fetches"]["success"] for s in states)
        self.envoy[JWT_JWKS_FETCH_FAILED] = sum(s["fetches"]["failure"] for s in states)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Collector:
    """Renders the dict-held values as Prometheus families when the registry is scraped."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        requests = CounterMetricFamily(
            "istio_requests", "Requests answered (Istio standard metric).",
            labels=["reporter", "request_protocol", "response_code", "response_flags"],
        )  # fmt: skip
        for (code, flags), n in sorted(m.requests.items()):
            requests.add_metric(["destination", "http", str(code), flags], n)
        yield requests
        yield _durations(m.durations)
        denied = CounterMetricFamily(
            "meshgate_jwt_authn_denied", "Requests jwt_authn rejected, by status.", labels=["status"]
        )
        for status, n in sorted(m.jwt_denied.items()):
            denied.add_metric([status], n)
        yield denied
        reloads = CounterMetricFamily("meshgate_config_reload", "Config reloads.", labels=["result"])
        for result, n in sorted(m.reloads.items()):
            reloads.add_metric([result], n)
        yield reloads
        yield from _jwks_families(m.keystore.state() if m.keystore else [])
        if m.verified_tokens is not None:
            yield from _verified_tokens_families(m.verified_tokens)


def _durations(durations: dict[int, list[float]]) -> HistogramMetricFamily:
    hist = HistogramMetricFamily(
        "istio_request_duration_milliseconds", "Request duration (Istio standard metric).",
        labels=["reporter", "response_code"],
    )  # fmt: skip
    for code, counts in sorted(durations.items()):
        cumulative, acc = [], 0.0
        for bound, n in zip((*DURATION_BUCKETS_MS, float("inf")), counts[:-1], strict=True):
            acc += n
            cumulative.append((_le(bound), acc))
        hist.add_metric(["destination", str(code)], cumulative, counts[-1])
    return hist


def _le(bound: float) -> str:
    if bound == float("inf"):
        return "+Inf"
    return str(int(bound)) if bound == int(bound) else str(bound)


def _verified_tokens_families(cache: VerifiedTokensSource) -> Iterator[Metric]:
    lookups = CounterMetricFamily(
        "meshgate_jwt_cache_lookups", "Verified-token cache lookups (a miss parses and verifies).",
        labels=["result"],
    )  # fmt: skip
    lookups.add_metric(["hit"], cache.hits)
    lookups.add_metric(["miss"], cache.misses)
    yield lookups
    yield GaugeMetricFamily("meshgate_jwt_cache_entries", "Verified tokens cached.", value=len(cache))


def _jwks_families(states: list[dict[str, Any]]) -> Iterator[Metric]:
    fetches = CounterMetricFamily("meshgate_jwks_fetch", "JWKS fetches by result.", labels=["uri", "result"])
    age = GaugeMetricFamily("meshgate_jwks_age_seconds", "Seconds since the last good fetch.", labels=["uri"])
    for s in states:
        fetches.add_metric([s["uri"], "success"], s["fetches"]["success"])
        fetches.add_metric([s["uri"], "failure"], s["fetches"]["failure"])
        if s["age_s"] is not None:
            age.add_metric([s["uri"]], s["age_s"])
    yield fetches
    yield age
