"""The admin page over real sockets: decisions from the gateway and the ext_authz front, reasons in words,
escaping (XSS), and no token or key material in any admin response (page, fragments, JSON, config_dump).

Mutations these catch: a front that stops feeding the ring, an unescaped path, a token echoed by
"try a request", inline key sets dumped whole, a token query parameter shown in the decisions.
"""

from __future__ import annotations

import http.client
import io
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.extauthz.conftest import LoopThread, authz_options
from tests.gateway.conftest import DEMO_JWT, ISTIO_JWKS, RawClient, get
from tests.support.samples import SAMPLES
from tests.support.servers import GatewayThread

from meshgate.cli.demo import another_issuers_token
from meshgate.extauthz.service import AuthzServer
from meshgate.gateway.serve import ServeOptions
from meshgate.jose.mint import sign_token

HMAC_SECRET = b"an-hmac-secret-that-must-stay-on-the-server"
HMAC_K = "YW4taG1hYy1zZWNyZXQtdGhhdC1tdXN0LXN0YXktb24tdGhlLXNlcnZlcg"
ISTIO_N = json.loads(ISTIO_JWKS)["keys"][0]["n"]
# The seed with its key sets inline, plus an HS256 rule: both kinds of key material.
CONFIG = f"""\
apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata: {{name: frontend, namespace: default}}
spec:
  selector: {{matchLabels: {{app: frontend}}}}
  jwtRules:
  - issuer: testing@secure.istio.io
    jwks: '{ISTIO_JWKS}'
  - issuer: hmac-issuer
    jwks: '{{"keys": [{{"kty": "oct", "alg": "HS256", "kid": "h1", "k": "{HMAC_K}"}}]}}'
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {{name: require-jwt, namespace: default}}
spec:
  selector: {{matchLabels: {{app: frontend}}}}
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {{name: elsewhere, namespace: shop}}
spec: {{action: DENY, rules: [{{}}]}}
"""
HMAC_JWT = sign_token(HMAC_SECRET, {"iss": "hmac-issuer", "sub": "h"}, alg="HS256", kid="h1")
OTHER_JWT = another_issuers_token()
XSS_PATH = "/<script>alert(1)</script>"


def admin_get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read().decode()


def admin_try(port: int, fragment: bool = True, **fields: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = urllib.parse.urlencode(fields)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    conn.request("POST", "/admin/try" + ("?fragment=1" if fragment else ""), body, headers)
    response = conn.getresponse()
    assert response.status == 200
    return response.read().decode()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    config = tmp_path_factory.mktemp("admin") / "seed.yaml"
    config.write_text(CONFIG)
    opts = ServeOptions(config_paths=(str(config),), listen="127.0.0.1:0", admin="127.0.0.1:0")
    gw = GatewayThread(replace(opts, labels={"app": "frontend"}))
    client = RawClient(gw.port)
    for path, token in [("/", None), (XSS_PATH, OTHER_JWT), ("/productpage", DEMO_JWT),
                        (f"/q?access_token={DEMO_JWT}&x=1", None), ("/h", HMAC_JWT)]:  # fmt: skip
        client.request(get(path, token=token))
    client.close()
    yield gw
    gw.stop()


def admin_port(gw: GatewayThread) -> int:
    assert gw.gateway.admin is not None
    return gw.gateway.admin.port


# (path, the words the decisions must hold) — reasons from the engine's trace, policy ids in words
DECISIONS = [
    ("/", 403, "no ALLOW policy matched (no token)"),
    ("/&lt;script&gt;alert(1)&lt;/script&gt;", 401, "JWT rejected: Jwt issuer is not configured"),
    ("/productpage", 200, "allowed by ALLOW policy default/require-jwt, rule 0 (token of "
     "testing@secure.istio.io/testing@secure.istio.io)"),
    ("/q?access_token=[token]&amp;x=1", 200, "allowed by ALLOW policy default/require-jwt, rule 0"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "status", "why"), DECISIONS, ids=[d[0] for d in DECISIONS])
def test_the_page_lists_each_decision_with_its_reason(
    gateway: GatewayThread, path: str, status: int, why: str
) -> None:
    status_code, page = admin_get(admin_port(gateway), "/")
    assert status_code == 200
    row = next(r for r in page.split("<tr") if f'"mono path">{path}</td>' in r)
    assert f">{status}</span>" in row and why in row


def test_the_page_shows_resources_with_file_line_and_key_sets_by_kid(gateway: GatewayThread) -> None:
    _, page = admin_get(admin_port(gateway), "/")
    config = gateway.opts.config_paths[0]
    assert "default/frontend</td>" in page and f"{config}:1</td>" in page
    assert "default/require-jwt</td>" in page and f"{config}:12</td>" in page
    assert "Loaded, but for other workloads (1)" in page and "shop/elsewhere" in page
    assert "DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ" in page and "h1" in page  # kids, not keys
    assert (
        "compiled view" in page and "&lt;inline JWKS: 1 usable key(s), kids: h1; keys not shown&gt;" in page
    )
    assert '<a href="/stats/prometheus">' in page


def test_try_a_request_decides_with_the_live_engine(gateway: GatewayThread) -> None:
    port = admin_port(gateway)
    allowed = admin_try(port, method="GET", path="/x", token=DEMO_JWT)
    assert 'id="try-verdict">ALLOWED 200<' in allowed and "default/require-jwt, rule 0" in allowed
    denied = admin_try(port, method="DELETE", path="/x", token=OTHER_JWT)
    assert 'id="try-verdict">DENIED 401<' in denied and "Jwt issuer is not configured" in denied
    bad = admin_try(port, method="G<E>T", path="/")
    assert "Not a request: method: letters only" in bad and "G<E>T" not in bad
    page = admin_try(port, fragment=False, path="/", token="")
    assert page.startswith("<!doctype html>") and 'id="try-verdict">DENIED 403<' in page


def test_try_a_request_escapes_what_it_echoes(gateway: GatewayThread) -> None:
    answer = admin_try(
        admin_port(gateway), path="/<img src=x onerror=alert(1)>", headers="x-a: <b>", token=OTHER_JWT
    )
    assert "<img" not in answer and "&lt;img src=x onerror=alert(1)&gt;" in answer


def test_the_decisions_json_blanks_tokens_and_words_reasons(gateway: GatewayThread) -> None:
    status, text = admin_get(admin_port(gateway), "/admin/decisions.json")
    decisions = json.loads(text)
    assert status == 200 and [d["front"] for d in decisions] == ["gateway"] * 5
    assert decisions[1]["path"] == "/q?access_token=[token]&x=1" and decisions[1]["allowed"] is True
    assert decisions[-1] == {**decisions[-1], "path": "/", "status": 403, "policy": None}


def _secrets() -> list[str]:
    """Every token sent, each of its segments, and every key: none may leave the admin port."""
    tokens = [DEMO_JWT, OTHER_JWT, HMAC_JWT]
    pem_body = [line for line in (SAMPLES / "key.pem").read_text().splitlines() if "-----" not in line]
    return [
        *tokens,
        *(s for t in tokens for s in t.split(".")),
        ISTIO_N,
        HMAC_K,
        HMAC_SECRET.decode(),
        *pem_body,
    ]


def test_no_admin_response_carries_a_token_or_key_material(gateway: GatewayThread) -> None:
    port = admin_port(gateway)
    bodies = {path: admin_get(port, path)[1] for path in
              ("/", "/admin/live", "/admin/decisions.json", "/config_dump", "/stats/prometheus", "/ready")}  # fmt: skip
    for token in (DEMO_JWT, HMAC_JWT):
        bodies[f"try {token[:8]}"] = admin_try(port, path=f"/t?access_token={token}", token=token,
                                              headers=f"x-copy: Bearer {token}")  # fmt: skip
        bodies[f"try page {token[:8]}"] = admin_try(port, fragment=False, token=token)
    assert "DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ" in bodies["/config_dump"]  # the kid stays visible
    for secret in _secrets():
        leaks = [path for path, body in bodies.items() if secret in body]
        assert not leaks, f"{secret[:16]}... appears in {leaks}"


def test_the_page_escapes_the_path_it_shows(gateway: GatewayThread) -> None:
    for path in ("/", "/admin/live"):
        _, body = admin_get(admin_port(gateway), path)
        assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_the_ext_authz_front_feeds_the_decisions(tmp_path: Path) -> None:
    config = tmp_path / "seed.yaml"
    config.write_text(CONFIG)
    loop = LoopThread()
    opts = authz_options(config, grpc="", namespace="default", labels={"app": "frontend"})
    server = AuthzServer(opts, log_stream=io.StringIO())
    try:
        loop.run(server.start())
        assert server.http_port is not None and server.admin_port is not None
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        conn.request("GET", "/orders", headers={"authorization": f"Bearer {OTHER_JWT}"})
        assert conn.getresponse().status == 401
        status, text = admin_get(server.admin_port, "/admin/decisions.json")
        assert status == 200
        [decision] = json.loads(text)
        assert decision["front"] == "ext_authz" and decision["path"] == "/orders"
        assert decision["reason"] == "JWT rejected: Jwt issuer is not configured"
    finally:
        loop.run(server.stop())
        loop.close()
