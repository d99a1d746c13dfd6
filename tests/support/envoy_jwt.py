"""A real Envoy 1.40 configured as istiod would for Istio security resources, for parity tests.

`EnvoyProcess.start(http_filters, upstream_port)` writes a static bootstrap (one listener, the given HTTP
filters, then the router to one upstream cluster) and starts `.venv/bin/envoy`; `.port` is where to send
requests. `for_resources(yaml_text, upstream_port)` builds the filters from Istio YAML through
`tests/support/istio_xds.py`, so Envoy and meshgate enforce the same text. The listener's connection manager
is set as istiod sets an ingress gateway's (`istio/istio:pilot/pkg/networking/core/listener_builder.go`,
`gateway.go`): `normalize_path`, `use_remote_address`, `server_name: istio-envoy`, path normalization BASE.

`exchange(port, raw)` sends raw bytes and returns the parsed response; the same client talks to meshgate's
gateway, so both sides are asked with identical bytes.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httptools
from tests.support.istio_xds import jwt_authn_filter, rbac_filters

from meshgate.resources.load import load_text

ENVOY = Path(sys.executable).parent / "envoy"
Config = dict[str, Any]
_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}


def have_envoy() -> bool:
    return ENVOY.exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _address(port: int) -> Config:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def bootstrap(
    listen_port: int, admin_port: int, upstream_port: int, http_filters: Sequence[Config]
) -> Config:
    """A static bootstrap: listener → `http_filters` → router → the upstream on loopback."""
    hcm = {
        "@type": _HCM,
        "stat_prefix": "parity",
        "server_name": "istio-envoy",  # istio/istio:pilot/pkg/networking/util/proxy_headers.go
        "normalize_path": True,  # Istio's default path normalization: BASE
        "use_remote_address": True,  # an ingress gateway
        "delayed_close_timeout": "0s",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "0s"}}],
                }
            ]
        },
        "http_filters": [*http_filters, _ROUTER],
    }
    cluster = {
        "name": "upstream",
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": "upstream",
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(upstream_port)}}]}],
        },
    }
    listener = {
        "name": "parity",
        "address": _address(listen_port),
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }
    return {
        "admin": {"address": _address(admin_port)},
        "static_resources": {"listeners": [listener], "clusters": [cluster]},
    }


def istio_filters(yaml_text: str) -> list[Config]:
    """jwt_authn then RBAC, as istiod orders them, for every resource in `yaml_text`."""
    loaded = load_text(yaml_text, "<parity>")
    assert loaded.ok, [str(p) for p in loaded.problems]
    resources = loaded.resources
    rules = [rule for ra in resources.request_authentications for rule in ra.jwt_rules]
    filters = [jwt_authn_filter(rules)] if rules else []
    return filters + rbac_filters(resources.authorization_policies)


@dataclass
class EnvoyProcess:
    """A running Envoy; stop it with `stop()` (or use it as a context manager)."""

    proc: subprocess.Popen[bytes]
    port: int
    admin_port: int
    directory: Path

    @classmethod
    def start(cls, http_filters: Sequence[Config], upstream_port: int, timeout: float = 30) -> EnvoyProcess:
        port, admin = free_port(), free_port()
        directory = Path(tempfile.mkdtemp(prefix="meshgate-envoy-"))
        config = directory / "envoy.json"
        config.write_text(json.dumps(bootstrap(port, admin, upstream_port, http_filters), indent=1))
        log = (directory / "envoy.log").open("wb")
        proc = subprocess.Popen(
            [str(ENVOY), "-c", str(config), "--concurrency", "1", "--disable-hot-restart",
             "--use-dynamic-base-id", "-l", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        envoy = cls(proc, port, admin, directory)
        envoy._wait_ready(timeout)
        return envoy

    @classmethod
    def for_resources(cls, yaml_text: str, upstream_port: int) -> EnvoyProcess:
        return cls.start(istio_filters(yaml_text), upstream_port)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy exited {self.proc.returncode}: {self.log()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"envoy did not listen within {timeout}s: {self.log()[-3000:]}")

    def log(self) -> str:
        return (self.directory / "envoy.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

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
