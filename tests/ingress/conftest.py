"""meshgate as the ingress, end to end: real `Gateway`s on loopback with Gateway/VirtualService/ServiceEntry
configurations, real upstreams (tests/support/servers.py Upstream records what each received), Istio's
sample key set served over HTTP by a real server (the key store fetches it), and a plain HTTP client."""

from __future__ import annotations

import http.client
import http.server
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.jwks_server import free_port
from tests.support.samples import SAMPLES
from tests.support.servers import GatewayThread, Upstream

from meshgate.gateway.serve import ServeOptions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ingress"
DEMO_JWT = (SAMPLES / "demo.jwt").read_text().strip()
ISTIO_JWKS = (SAMPLES / "jwks.json").read_text()
SEED_JWKS_URI = (
    "https://raw.githubusercontent.com/istio/istio/release-1.5/security/tools/jwt/samples/jwks.json"
)
GATEWAY_WORKLOAD = {"namespace": "istio-system", "labels": {"istio": "ingressgateway"}}


class StaticJwks:
    """Istio's sample jwks.json over HTTP on loopback (a thread), counting fetches."""

    def __init__(self) -> None:
        owner = self
        self.hits = 0
        self.document = ISTIO_JWKS  # what the next fetch gets (a test rotates keys by replacing it)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                body = owner.document.encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def call(
    port: int,
    path: str = "/",
    *,
    host: str = "example.com",
    headers: dict[str, str] | None = None,
    method: str = "GET",
    tls: ssl.SSLContext | None = None,
    sni: str | None = None,
) -> Reply:
    """One request on a fresh connection (TLS with `sni` as the server name when `tls`); the reply."""
    sock = socket.create_connection(("127.0.0.1", port), 10)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname=sni)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        sock.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def example_config(directory: Path, *, gateway_port: int, frontend_port: int, jwks_uri: str) -> Path:
    """examples/ingress with its gateway port, the frontend endpoint's port and the seed's jwksUri moved."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in sorted(EXAMPLE.glob("*.yaml")):
        text = source.read_text()
        text = text.replace("number: 8080", f"number: {gateway_port}")
        text = text.replace("http: 18080", f"http: {frontend_port}")
        text = text.replace(SEED_JWKS_URI, jwks_uri)
        (directory / source.name).write_text(text)
    return directory


def start_gateway(config: Path, **extra: object) -> GatewayThread:
    fields: dict[str, object] = {"admin": None, **GATEWAY_WORKLOAD, **extra}
    opts = ServeOptions(config_paths=(str(config),), **fields)  # type: ignore[arg-type]
    return GatewayThread(opts)


@pytest.fixture
def jwks() -> Iterator[StaticJwks]:
    server = StaticJwks()
    yield server
    server.stop()


@pytest.fixture
def upstreams() -> Iterator[list[Upstream]]:
    started: list[Upstream] = []
    yield started
    for upstream in started:
        upstream.stop()


def upstream(started: list[Upstream]) -> Upstream:
    up = Upstream().start()
    started.append(up)
    return up


__all__ = ["free_port", "shutil"]
