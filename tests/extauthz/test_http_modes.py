"""`authz-server --http-mode` end to end over loopback sockets (docs/extauthz.md).

One policy that a spoofed header would flip: GET app.example /public/* is allowed, and so is anything
from 203.0.113.7; the rest is `403 RBAC: access denied`. Each mode reads only the headers its caller sets
(extauthz/http_request.py): `envoy` the request line as Envoy's HTTP ext_authz client sends it
(envoyproxy/envoy source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc), `nginx`
X-Original-URI/-Method (deploy/nginx/meshgate-authz.conf), `forward-auth` Traefik's X-Forwarded-Method/
-Proto/-Host/-Uri (traefik/traefik pkg/middlewares/auth/forward.go), `auto` either. A mode's required
headers missing → 400 naming them.

Mutations caught: the flag not reaching the HTTP port (every row of a non-auto mode answers as auto), a
mode reading another proxy's headers, a missing header decided as `/` instead of refused.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.extauthz.conftest import LoopThread, start_authz

from meshgate.extauthz.http_request import HTTP_MODES
from meshgate.extauthz.service import AuthzServer

MODES_YAML = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: modes, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - to:
    - operation: {methods: ["GET"], hosts: ["app.example"], paths: ["/public/*"]}
  - from:
    - source: {ipBlocks: ["203.0.113.7/32"]}
"""
DENIED = "RBAC: access denied"
TRAEFIK = {"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: str = ""
    path: str | None = None  # x-meshgate-path (forward-auth style answers)
    body_header: str | None = None  # x-meshgate-body (nginx style denials)


ALLOWED_FORWARDED = Answer(200, path="/public/x")
NGINX_DENIED = Answer(403, DENIED, body_header=DENIED)


def _missing(mode: str, names: str) -> Answer:
    return Answer(400, f"--http-mode {mode}: the authorization request lacks {names}")


ROWS = [
    # envoy: the request line is the original request; no header describes another one
    ("envoy", "GET", "/public/x", {}, Answer(200), "request line allowed"),
    (
        "envoy",
        "GET",
        "/private",
        {"X-Original-URI": "/public/x"},
        Answer(403, DENIED),
        "x-original-uri ignored",
    ),
    (
        "envoy",
        "GET",
        "/private",
        {"X-Forwarded-Uri": "/public/x", **TRAEFIK},
        Answer(403, DENIED),
        "x-forwarded-uri ignored",
    ),
    ("envoy", "GET", "/private", {"X-Real-IP": "203.0.113.7"}, Answer(403, DENIED), "x-real-ip ignored"),
    ("envoy", "DELETE", "/public/x", {}, Answer(403, DENIED), "the request's own method decides"),
    # nginx: X-Original-URI (required), X-Original-Method, Host, X-Real-IP
    (
        "nginx",
        "GET",
        "/_auth",
        {"X-Original-URI": "/public/x", "X-Original-Method": "GET"},
        ALLOWED_FORWARDED,
        "x-original-uri allowed",
    ),
    (
        "nginx",
        "GET",
        "/_auth",
        {"X-Original-URI": "/private", "X-Original-Method": "GET"},
        NGINX_DENIED,
        "denial repeats its body in x-meshgate-body",
    ),
    (
        "nginx",
        "GET",
        "/_auth",
        {"X-Original-URI": "/public/x", "X-Original-Method": "POST"},
        NGINX_DENIED,
        "x-original-method decides",
    ),
    (
        "nginx",
        "GET",
        "/_auth",
        {"X-Original-URI": "/private", "X-Real-IP": "203.0.113.7"},
        Answer(200, path="/private"),
        "x-real-ip is the peer",
    ),
    (
        "nginx",
        "GET",
        "/_auth",
        {"X-Original-URI": "/public/x", "Host": "other.example", "X-Forwarded-Host": "app.example"},
        NGINX_DENIED,
        "a client's x-forwarded-host is not the authority",
    ),
    (
        "nginx",
        "GET",
        "/_auth",
        {"X-Original-URI": "/private", "X-Forwarded-Uri": "/public/x"},
        NGINX_DENIED,
        "x-forwarded-uri ignored",
    ),
    ("nginx", "GET", "/public/x", {}, _missing("nginx", "X-Original-Uri"), "no x-original-uri → 400"),
    # forward-auth (Traefik): all four X-Forwarded-* required
    (
        "forward-auth",
        "GET",
        "/auth",
        {"X-Forwarded-Uri": "/public/x", **TRAEFIK},
        ALLOWED_FORWARDED,
        "x-forwarded-uri allowed",
    ),
    (
        "forward-auth",
        "GET",
        "/auth",
        {"X-Forwarded-Uri": "/private", **TRAEFIK},
        Answer(403, DENIED),
        "denial: the body is the answer's (no x-meshgate-body)",
    ),
    (
        "forward-auth",
        "GET",
        "/auth",
        {"X-Forwarded-Uri": "/public/x", **TRAEFIK, "X-Forwarded-Host": "other.example"},
        Answer(403, DENIED),
        "x-forwarded-host is the authority",
    ),
    (
        "forward-auth",
        "GET",
        "/auth",
        {"X-Forwarded-Uri": "/private", "X-Original-URI": "/public/x", **TRAEFIK},
        Answer(403, DENIED),
        "x-original-uri ignored",
    ),
    (
        "forward-auth",
        "GET",
        "/auth",
        {"X-Forwarded-Uri": "/public/x", "X-Forwarded-Method": "GET", "X-Forwarded-Host": "app.example"},
        _missing("forward-auth", "X-Forwarded-Proto"),
        "no x-forwarded-proto → 400",
    ),
    (
        "forward-auth",
        "GET",
        "/public/x",
        {"X-Original-URI": "/public/x"},
        _missing("forward-auth", "X-Forwarded-Method, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Uri"),
        "none of them → 400 naming all four",
    ),
    # auto, as before the flag was wired: whichever forward-auth header is present, else the request line
    ("auto", "GET", "/public/x", {}, Answer(200), "request line"),
    ("auto", "GET", "/_auth", {"X-Original-URI": "/private"}, NGINX_DENIED, "x-original-uri: nginx style"),
    (
        "auto",
        "GET",
        "/auth",
        {"X-Forwarded-Uri": "/public/x", **TRAEFIK},
        ALLOWED_FORWARDED,
        "x-forwarded-uri: Traefik style",
    ),
    ("auto", "GET", "/private", {"X-Real-IP": "203.0.113.7"}, Answer(200), "x-real-ip is the peer"),
]


@pytest.fixture(scope="module")
def servers(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """One authz-server per mode (HTTP port only), all on the policy above."""
    config = tmp_path_factory.mktemp("modes") / "modes.yaml"
    config.write_text(MODES_YAML)
    started: dict[str, AuthzServer] = {
        mode: start_authz(loop_thread, config, grpc="", admin="", http_mode=mode) for mode in HTTP_MODES
    }
    yield {mode: server.http_port or 0 for mode, server in started.items()}
    for server in started.values():
        loop_thread.run(server.stop())


def ask(port: int, method: str, target: str, headers: dict[str, str]) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target, headers={"Host": "app.example", **headers})
        resp = conn.getresponse()
        body = resp.read().decode()
        return Answer(resp.status, body, resp.getheader("x-meshgate-path"), resp.getheader("x-meshgate-body"))
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("mode", "method", "target", "headers", "answer"),
    [pytest.param(*row[:5], id=f"{row[0]}: {row[5]}") for row in ROWS],
)
def test_http_mode(
    servers: dict[str, int], mode: str, method: str, target: str, headers: dict[str, str], answer: Answer
) -> None:
    assert ask(servers[mode], method, target, headers) == answer


def test_a_refused_request_keeps_the_connection_usable(servers: dict[str, int]) -> None:
    """The 400 is an answer, not a dropped connection: the next request on it is decided."""
    conn = http.client.HTTPConnection("127.0.0.1", servers["nginx"], timeout=10)
    try:
        conn.request("GET", "/x", headers={"Host": "app.example"})
        first = conn.getresponse()
        assert (first.status, first.getheader("content-type")) == (400, "text/plain")
        first.read()
        conn.request("GET", "/_auth", headers={"Host": "app.example", "X-Original-URI": "/public/x"})
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b"")
    finally:
        conn.close()


def test_cli_passes_the_mode(tmp_path: Path) -> None:
    """`--http-mode` reaches the options the server is built from (it was parsed and dropped)."""
    from meshgate.cli.authz_server import options_from_args
    from meshgate.cli.main import build_parser

    for mode in HTTP_MODES:
        args = build_parser().parse_args(["authz-server", "-c", str(tmp_path), "--http-mode", mode])
        assert options_from_args(args).http_mode == mode
