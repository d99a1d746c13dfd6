"""A real Envoy 1.40 configured as istiod would for Istio security resources, for parity tests.

`EnvoyProcess.start({name: http_filters}, upstream_port)` writes one static bootstrap — a listener per name,
each with its HTTP filters then the router to one upstream cluster — and starts `.venv/bin/envoy` once;
`.port(name)` is where to send that configuration's requests. `istio_filters(yaml_text)` builds the filters
from Istio YAML through `tests/support/istio_xds.py`, so Envoy and meshgate enforce the same text. Every
listener's connection manager is set as istiod sets an ingress gateway's
(`istio/istio:pilot/pkg/networking/core/listener_builder.go`, `gateway.go`): `normalize_path` (Istio's BASE
normalization), `use_remote_address`, `server_name: istio-envoy`. `extra_clusters` adds clusters the filters
name (e.g. an ext_authz service, `grpc_cluster`).

`exchange(port, raw)` sends raw bytes and returns the parsed response; the same client talks to meshgate's
gateway, so both sides are asked with identical bytes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httptools
from tests.support.istio_xds import jwt_authn_filter, rbac_filters

from meshgate.config.load import load_text

ENVOY = Path(sys.executable).parent / "envoy"
Config = dict[str, Any]
_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
UPSTREAM_CLUSTER = "upstream"


def have_envoy() -> bool:
    return ENVOY.exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _address(port: int) -> Config:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def cluster(name: str, port: int, http2: bool = False) -> Config:
    """A static cluster of one loopback endpoint (HTTP/2 for a gRPC service)."""
    config: Config = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(port)}}]}],
        },
    }
    if http2:
        config["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return config


def grpc_ext_authz_filter(cluster_name: str) -> Config:
    """Envoy's ext_authz filter asking a gRPC service (deploy/envoy/envoy-extauthz.yaml), failing closed."""
    return {
        "name": "envoy.filters.http.ext_authz",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            "transport_api_version": "V3",
            "failure_mode_allow": False,
            "grpc_service": {"envoy_grpc": {"cluster_name": cluster_name}, "timeout": "2s"},
        },
    }


def _listener(name: str, port: int, http_filters: Sequence[Config]) -> Config:
    hcm = {
        "@type": _HCM,
        "stat_prefix": name,
        "server_name": "istio-envoy",  # istio/istio:pilot/pkg/networking/util/proxy_headers.go
        "normalize_path": True,  # Istio's default path normalization: BASE
        "use_remote_address": True,  # an ingress gateway
        "delayed_close_timeout": "0s",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {"match": {"prefix": "/"}, "route": {"cluster": UPSTREAM_CLUSTER, "timeout": "0s"}}
                    ],
                }
            ]
        },
        "http_filters": [*http_filters, _ROUTER],
    }
    return {
        "name": name,
        "address": _address(port),
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }


def bootstrap(
    ports: Mapping[str, int],
    admin_port: int,
    upstream_port: int,
    filters: Mapping[str, Sequence[Config]],
    extra_clusters: Sequence[Config] = (),
) -> Config:
    """A static bootstrap: a listener per configuration → its filters → router → the upstream."""
    listeners = [_listener(name, ports[name], chain) for name, chain in filters.items()]
    clusters = [cluster(UPSTREAM_CLUSTER, upstream_port), *extra_clusters]
    return {
        "admin": {"address": _address(admin_port)},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def istio_filters(yaml_text: str, jwks_clusters: Mapping[str, str] | None = None) -> list[Config]:
    """jwt_authn then RBAC, as istiod orders them, for every resource in `yaml_text` (remote `jwksUri`s
    through the clusters `jwks_clusters` names)."""
    loaded = load_text(yaml_text, "<parity>")
    assert loaded.ok, [str(p) for p in loaded.problems]
    resources = loaded.resources
    rules = [rule for ra in resources.request_authentications for rule in ra.jwt_rules]
    filters = [jwt_authn_filter(rules, jwks_clusters)] if rules else []
    return filters + rbac_filters(resources.authorization_policies)


@dataclass
class EnvoyProcess:
    """A running Envoy; stop it with `stop()` (or use it as a context manager)."""

    proc: subprocess.Popen[bytes]
    ports: dict[str, int]
    admin_port: int
    directory: Path

    @classmethod
    def start(
        cls,
        filters: Mapping[str, Sequence[Config]],
        upstream_port: int,
        extra_clusters: Sequence[Config] = (),
        timeout: float = 30,
    ) -> EnvoyProcess:
        ports = {name: free_port() for name in filters}
        admin = free_port()
        directory = Path(tempfile.mkdtemp(prefix="meshgate-envoy-"))
        config = bootstrap(ports, admin, upstream_port, filters, extra_clusters)
        (directory / "envoy.json").write_text(json.dumps(config, indent=1))
        log = (directory / "envoy.log").open("wb")
        proc = subprocess.Popen(
            [str(ENVOY), "-c", str(directory / "envoy.json"), "--concurrency", "1", "--disable-hot-restart",
             "--use-dynamic-base-id", "-l", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        envoy = cls(proc, ports, admin, directory)
        atexit.register(envoy.stop)  # never outlive the test process, even when a fixture never tears down
        envoy._wait_ready(timeout)
        return envoy

    @classmethod
    def for_resources(
        cls, configs: Mapping[str, str], upstream_port: int, jwks_ports: Mapping[str, int] | None = None
    ) -> EnvoyProcess:
        """One listener per Istio YAML text, named by the mapping's keys; `jwks_ports` maps each remote
        `jwksUri` to the loopback port serving it (a cluster each)."""
        names = {uri: f"jwks-{i}" for i, uri in enumerate(jwks_ports or {})}
        clusters = [cluster(names[uri], port) for uri, port in (jwks_ports or {}).items()]
        filters = {name: istio_filters(text, names) for name, text in configs.items()}
        return cls.start(filters, upstream_port, extra_clusters=clusters)

    def port(self, name: str) -> int:
        return self.ports[name]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.ports.values())
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy exited {self.proc.returncode}: {self.log()[-3000:]}")
            for port in list(pending):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                    pending.discard(port)
            time.sleep(0.02)
        if pending:
            self.stop()
            raise RuntimeError(f"envoy did not listen within {timeout}s: {self.log()[-3000:]}")

    def log(self) -> str:
        return (self.directory / "envoy.log").read_text(errors="replace")

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> EnvoyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- one raw exchange ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]  # names lower-cased
    body: str

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None


class _Reader:
    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


def request_bytes(method: str, target: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 request head (no body), header lines exactly as given, in order."""
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def exchange(port: int, raw: bytes, timeout: float = 10) -> Response:
    """Send `raw` on a new connection and read one response."""
    reader = _Reader()
    parser = httptools.HttpResponseParser(reader)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        while not reader.done:
            chunk = sock.recv(65536)
            if not chunk:
                break
            parser.feed_data(chunk)
    return Response(parser.get_status_code(), tuple(reader.headers), reader.body.decode("utf-8", "replace"))
