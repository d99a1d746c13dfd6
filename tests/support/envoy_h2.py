"""A real Envoy 1.40 configured as istiod configures an ingress gateway in front of a gRPC service.

`IngressSpec` describes what the test needs; `bootstrap(spec, ports, admin)` builds the static bootstrap and
`start(spec)` runs `.venv/bin/envoy` on it (an `EnvoyProcess` from envoy_jwt.py: `port(name)`, `log()`,
`stop()`). Mirrors, read not copied:
- the listener's connection manager: istio/istio:pilot/pkg/networking/core/gateway.go
  buildGatewayConnectionManager + listener_builder.go buildHTTPConnectionManager — codec AUTO (h2c with
  prior knowledge and HTTP/1.1 on one port), `server_name: istio-envoy`, BASE path normalization,
  `use_remote_address`, websocket upgrades, `stream_idle_timeout: 0s`, `http_protocol_options: {}`, and
  NO `http2_protocol_options`: istiod leaves Envoy's HTTP/2 defaults unless the ProxyConfig
  ConnectionSettings EDGE profile is chosen (connection_settings.go applyEdgeProfileDefaults:
  max_concurrent_streams 100, initial windows 64 KiB stream / 1 MiB connection) — `EDGE_HTTP2` below;
- TLS: gateway.go buildGatewayListenerTLSContext, ALPN `h2,http/1.1` (util.ALPNHttp);
- the route: route/route.go TranslateRoute + applyHTTPRouteDestination + setTimeout (`timeout` 0s or the
  VirtualService's, `max_grpc_timeout` the same), route/retry/retry.go DefaultPolicy (2 retries on
  `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`, previous-hosts predicate);
- the gRPC cluster: cluster_builder.go setUpstreamProtocol/setH2Options for a GRPC or HTTP2 ServiceEntry
  port — `explicit_http_config.http2_protocol_options: {}` (envoy_jwt.cluster(http2=True)); every cluster
  with istiod's circuit breakers (cluster_traffic_policy.go getDefaultCircuitBreakerThresholds: all max);
- the policies: jwt_authn + RBAC of envoy_jwt.istio_filters / istio_xds.py. A `jwksUri` is inlined as
  `local_jwks` with the key set it serves, as istiod does by default (PILOT_JWT_ENABLE_REMOTE_JWKS=false:
  policy_applier.go → JwtKeyResolver.BuildLocalJwks);
- runtime: pkg/bootstrap/config.go extractRuntimeFlags (`http_reject_path_with_fragment: false`).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.envoy_jwt import ENVOY, EnvoyProcess, cluster, free_port
from tests.support.istio_xds import jwt_authn_filter, rbac_filters
from tests.support.jwks_server import ISTIO_JWKS, TestCA
from tests.support.seed import SEED_JWKS_URI, SEED_RESOURCES

from meshgate.config.load import load_text

Config = dict[str, Any]
_EXT = "type.googleapis.com/envoy.extensions."
EDGE_HTTP2: Config = {  # istio/istio:pilot/pkg/networking/core/connection_settings.go EDGE profile
    "max_concurrent_streams": 100,
    "initial_stream_window_size": 65536,
    "initial_connection_window_size": 1048576,
}
ISTIO_RUNTIME = {  # istio/istio:pkg/bootstrap/config.go extractRuntimeFlags (the ones that matter here)
    "re2.max_program_size.error_level": "32768",
    "envoy.reloadable_features.http_reject_path_with_fragment": False,
}
# istio/istio:pilot/pkg/networking/core/cluster_traffic_policy.go getDefaultCircuitBreakerThresholds
CIRCUIT_BREAKERS = {
    "thresholds": [{"max_connections": 4294967295, "max_pending_requests": 4294967295,
                    "max_requests": 4294967295, "max_retries": 4294967295, "track_remaining": True}]
}  # fmt: skip
DEFAULT_RETRY = {  # istio/istio:pilot/pkg/networking/core/route/retry/retry.go DefaultPolicy
    "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
    "num_retries": 2,
    "retry_host_predicate": [
        {
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {"@type": _EXT + "retry.host.previous_hosts.v3.PreviousHostsPredicate"},
        }
    ],
    "host_selection_retry_max_attempts": 5,
}


def seed_filters() -> list[Config]:
    """jwt_authn + RBAC for examples/seed, the jwksUri's key set inlined as istiod fetches it."""
    text = "\n---\n".join(
        p.read_text() for p in sorted(SEED_RESOURCES.glob("*.yaml")) if p.name != "tests.yaml"
    )
    loaded = load_text(text, "<seed>")
    assert loaded.ok, [str(p) for p in loaded.problems]
    res = loaded.resources
    rules = [
        dataclasses.replace(rule, jwks=ISTIO_JWKS) if rule.jwks_uri == SEED_JWKS_URI else rule
        for ra in res.request_authentications
        for rule in ra.jwt_rules
    ]
    return [jwt_authn_filter(rules), *rbac_filters(res.authorization_policies)]


@dataclass(frozen=True)
class Route:
    """One virtual host of the gateway's route configuration (istiod: one per VirtualService host)."""

    host: str
    cluster: str | None = None  # the destination's cluster; None with `direct` for a directResponse
    timeout: str = "0s"  # the VirtualService `timeout` (0s: none, Istio's default)
    direct: tuple[int, str] | None = None  # VirtualService directResponse (status, body)

    def config(self) -> Config:
        route: Config = {"name": self.host, "match": {"prefix": "/", "case_sensitive": True}}
        if self.direct is not None:
            status, body = self.direct
            route["direct_response"] = {"status": status, "body": {"inline_string": body}}
        else:
            route["route"] = {"cluster": self.cluster, "timeout": self.timeout,
                              "max_grpc_timeout": self.timeout, "retry_policy": DEFAULT_RETRY}  # fmt: skip
        return {"name": f"{self.host}:80", "domains": [self.host], "routes": [route]}


@dataclass(frozen=True)
class Listener:
    name: str
    tls: TestCA | None = None  # HTTPS server: ALPN h2,http/1.1
    http2: Config | None = None  # http2_protocol_options; None = Envoy's defaults, as istiod leaves them


@dataclass
class IngressSpec:
    listeners: Sequence[Listener]
    routes: Sequence[Route]
    clusters: Mapping[str, int]  # name → loopback port of an HTTP/2 (gRPC) upstream
    http1_clusters: Mapping[str, int] = field(default_factory=dict)  # name → port of an HTTP/1.1 upstream
    http_filters: Sequence[Config] = field(default_factory=seed_filters)


def _address(port: int) -> Config:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def connection_manager(spec: IngressSpec, listener: Listener) -> Config:
    hcm: Config = {
        "@type": _EXT + "filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": listener.name,
        "codec_type": "AUTO",
        "server_name": "istio-envoy",
        "normalize_path": True,
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
        "use_remote_address": True,
        "forward_client_cert_details": "SANITIZE_SET",
        "set_current_client_cert_details": {"subject": True, "cert": True, "dns": True, "uri": True},
        "http_protocol_options": {},
        "upgrade_configs": [{"upgrade_type": "websocket"}],
        "stream_idle_timeout": "0s",
        "route_config": {
            "name": "http.80",
            "virtual_hosts": [r.config() for r in spec.routes],
            "validate_clusters": False,
            "ignore_port_in_host_matching": True,
            "max_direct_response_body_size_bytes": 1048576,
        },
        "http_filters": [
            *spec.http_filters,
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": _EXT + "filters.http.router.v3.Router"},
            },
        ],
    }
    if listener.http2 is not None:
        hcm["http2_protocol_options"] = listener.http2
    return hcm


def _tls(ca: TestCA) -> Config:
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _EXT + "transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": ca.cert_file},
                        "private_key": {"filename": ca.key_file},
                    }
                ],
            },
        },
    }


def bootstrap(spec: IngressSpec, ports: Mapping[str, int], admin: int) -> Config:
    listeners = []
    for lst in spec.listeners:
        hcm = connection_manager(spec, lst)
        chain: Config = {
            "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]
        }
        if lst.tls is not None:
            chain["transport_socket"] = _tls(lst.tls)
        listeners.append({"name": lst.name, "address": _address(ports[lst.name]), "filter_chains": [chain]})
    return {
        "admin": {"address": _address(admin)},
        "layered_runtime": {"layers": [{"name": "global config", "static_layer": ISTIO_RUNTIME}]},
        "static_resources": {
            "listeners": listeners,
            "clusters": [
                cluster(name, port, http2=True) | {"circuit_breakers": CIRCUIT_BREAKERS}
                for name, port in spec.clusters.items()
            ]
            + [
                cluster(name, port) | {"circuit_breakers": CIRCUIT_BREAKERS}
                for name, port in spec.http1_clusters.items()
            ],
        },
    }


def start(spec: IngressSpec, timeout: float = 30) -> EnvoyProcess:
    """Run Envoy on the spec's bootstrap (one worker, warnings only) and wait until every listener accepts."""
    ports = {lst.name: free_port() for lst in spec.listeners}
    admin = free_port()
    directory = Path(tempfile.mkdtemp(prefix="meshgate-envoy-h2-"))
    (directory / "envoy.json").write_text(json.dumps(bootstrap(spec, ports, admin), indent=1))
    with (directory / "envoy.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(ENVOY), "-c", str(directory / "envoy.json"), "--concurrency", "1", "--disable-hot-restart",
             "--use-dynamic-base-id", "-l", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    envoy = EnvoyProcess(proc, ports, admin, directory)
    atexit.register(envoy.stop)
    envoy._wait_ready(timeout)
    return envoy
