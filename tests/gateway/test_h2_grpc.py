"""Issue 14, phase 2: meshgate answers gRPC and plain HTTP/2 clients as Envoy 1.40 does — the phase-1 tables
(tests/support/h2_facts.py, pinned against a real Envoy by tests/parity/test_grpc_envoy_facts.py) asserted
against `meshgate serve` gateways in front of the same real upstreams (tests/support/h2_meshgate.py).

Rows that need host routing (no virtual host, directResponse) run through meshgate as the ingress in
tests/ingress/test_grpc_routed_facts.py; meshgate does not retry, so its connect-failure text lacks Envoy's
"retried and the latest" (the one row with its own expectation, docs/istio-semantics.md). A mutation of the
gRPC status table, of the header order, of the percent-encoding or of trailers relaying fails a row.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator

import grpc
import pytest
from tests.support.grpc_servers import (
    HEALTH_WATCH,
    NOT_SERVING,
    SERVING,
    bearer,
    call_stream,
    call_unary,
    channel,
    grpc_frame,
    grpc_headers,
    grpc_messages,
    health_request,
    health_status,
)
from tests.support.h2_client import H2Client
from tests.support.h2_facts import (
    DENIED,
    GRPC_HOST,
    GRPC_LOCAL_REPLIES,
    HEALTH_CHECK,
    NOT_GRPC_CONTENT_TYPES,
    PLAIN_PATH,
    SEED_OVER_H2,
    TOKENS,
    UNKNOWN_ISSUER,
    UPSTREAM_FAIL_HEADERS,
    UPSTREAM_FAIL_REQUEST,
    UPSTREAM_OK_HEADERS,
    UPSTREAM_OK_TRAILERS,
    WEB_HOST,
    GrpcRow,
    grpc_reply,
    matches,
    plain_reply,
    realm,
)
from tests.support.h2_meshgate import MeshgateRig

from meshgate.gateway.local_reply import UPSTREAM_CONNECT_FAILURE

PROBE = "/meshgate.test.Probe/"
# Rows meshgate answers without routing, with the gateway that plays the row's Envoy route.
LISTENER_OF = {
    "upstream refused (after Istio's 2 retries): 503 → 14 UNAVAILABLE": "down",
    "route timeout (VirtualService 0.3 s): 504 → 14 UNAVAILABLE, not 4 DEADLINE_EXCEEDED": "silent",
    "client grpc-timeout 200m (max_grpc_timeout 0s honours it): 504 → 14": "silent-untimed",
}
NEEDS_ROUTING = ("no virtual host", "directResponse")
NO_RETRY = {"upstream refused (after Istio's 2 retries): 503 → 14 UNAVAILABLE": grpc_reply(
    14, UPSTREAM_CONNECT_FAILURE)}  # fmt: skip
ROWS = [r for r in GRPC_LOCAL_REPLIES if not any(r.name.startswith(p) for p in NEEDS_ROUTING)]


@pytest.fixture(scope="module")
def rig() -> Iterator[MeshgateRig]:
    r = MeshgateRig().start()
    yield r
    r.stop()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_grpc_local_reply_over_h2c(rig: MeshgateRig, row: GrpcRow) -> None:
    """source/common/http/utility.cc prepareLocalReply/encodeLocalReply: one HEADERS frame, END_STREAM."""
    headers = [("content-type", row.content_type), ("te", "trailers"), *bearer(TOKENS[row.token]), *row.extra]
    body = grpc_frame(health_request()) if row.method == "POST" else b""
    with H2Client(rig.port(LISTENER_OF.get(row.name, "plain"))) as client:
        r = client.exchange(row.method, row.path, row.authority, headers, body)
    assert matches(r.headers, NO_RETRY.get(row.name, row.headers)), r.headers
    assert (r.headers_ended_stream, r.data, r.trailers, r.reset) == (True, b"", None, None)


@pytest.mark.parametrize(
    ("token", "expected"),
    [("none", grpc_reply(7, DENIED)),
     ("other", grpc_reply(16, UNKNOWN_ISSUER, [realm("https", GRPC_HOST, HEALTH_CHECK)]))],
)  # fmt: skip
def test_grpc_local_reply_over_tls_h2(rig: MeshgateRig, token: str, expected: list[tuple[str, str]]) -> None:
    with H2Client(rig.port("tls"), ca_file=rig.ca.ca_file) as client:
        assert client.alpn == "h2"
        r = client.exchange("POST", HEALTH_CHECK, GRPC_HOST, grpc_headers(TOKENS[token]), grpc_frame(b""))
    assert matches(r.headers, expected) and r.headers_ended_stream, r.headers


@pytest.mark.parametrize("content_type", NOT_GRPC_CONTENT_TYPES)
def test_not_grpc_content_types_get_the_plain_reply(rig: MeshgateRig, content_type: str) -> None:
    with H2Client(rig.port("plain")) as client:
        r = client.exchange("POST", HEALTH_CHECK, GRPC_HOST, [("content-type", content_type)], b"x")
    assert matches(r.headers, plain_reply(403, DENIED)), r.headers
    assert (r.headers_ended_stream, r.data, r.data_frames, r.ended) == (False, DENIED.encode(), 1, True)


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_allowed_unary_call_is_relayed_with_its_trailers(rig: MeshgateRig, listener: str) -> None:
    with H2Client(rig.port(listener), ca_file=rig.ca.ca_file if listener == "tls" else None) as client:
        r = client.exchange(
            "POST", HEALTH_CHECK, GRPC_HOST, grpc_headers(TOKENS["demo"]), grpc_frame(health_request())
        )
    assert matches(r.headers, UPSTREAM_OK_HEADERS), r.headers
    assert [health_status(m) for m in grpc_messages(r.data)] == [SERVING]
    assert r.trailers == UPSTREAM_OK_TRAILERS and not r.headers_ended_stream


def test_upstream_grpc_error_is_relayed_untouched(rig: MeshgateRig) -> None:
    body = grpc_frame(UPSTREAM_FAIL_REQUEST.encode())
    with H2Client(rig.port("plain")) as client:
        r = client.exchange("POST", PROBE + "Fail", GRPC_HOST, grpc_headers(TOKENS["demo"]), body)
    assert matches(r.headers, UPSTREAM_FAIL_HEADERS) and r.headers_ended_stream, r.headers


@pytest.mark.parametrize("listener", ["plain", "tls"])
@pytest.mark.parametrize(
    ("token", "code", "details", "challenge"),
    [("none", grpc.StatusCode.PERMISSION_DENIED, DENIED, False),
     ("other", grpc.StatusCode.UNAUTHENTICATED, UNKNOWN_ISSUER, True),
     ("demo", grpc.StatusCode.OK, "", False)],
)  # fmt: skip
def test_grpcio_client_unary(
    rig: MeshgateRig, listener: str, token: str, code: grpc.StatusCode, details: str, challenge: bool
) -> None:
    """A real grpcio client → meshgate → a real grpcio server; the token in metadata."""
    ca = rig.ca.ca_file if listener == "tls" else None
    with channel(rig.port(listener), ca, authority=GRPC_HOST) as ch:
        out = call_unary(ch, HEALTH_CHECK, health_request(), bearer(TOKENS[token]))
    assert (out.code, out.details) == (code, details)
    scheme = "https" if listener == "tls" else "http"
    assert out.trailing("www-authenticate") == (
        [realm(scheme, GRPC_HOST, HEALTH_CHECK)[1]] if challenge else []
    )
    if code == grpc.StatusCode.OK:
        assert [health_status(m) for m in out.messages] == [SERVING]


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_grpcio_server_streaming(rig: MeshgateRig, listener: str) -> None:
    """Several messages on one stream (Probe/Count), and the health Watch following a status change."""
    ca = rig.ca.ca_file if listener == "tls" else None
    with channel(rig.port(listener), ca, authority=GRPC_HOST) as ch:
        out = call_stream(ch, PROBE + "Count", b"5", bearer(TOKENS["demo"]))
        assert (out.code, out.messages) == (grpc.StatusCode.OK, [f"message {i}".encode() for i in range(5)])
        service = f"watched-{listener}"
        rig.grpc.set_health(service, SERVING)
        rpc = ch.unary_stream(HEALTH_WATCH, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        watch = rpc(health_request(service), metadata=bearer(TOKENS["demo"]), timeout=5)
        first = health_status(next(watch))
        rig.grpc.set_health(service, NOT_SERVING)
        second = health_status(next(watch))
        watch.cancel()
    assert (first, second) == (SERVING, NOT_SERVING)


def test_upstream_never_sees_the_token(rig: MeshgateRig) -> None:
    with channel(rig.port("plain"), authority=GRPC_HOST) as ch:
        out = call_unary(ch, PROBE + "Echo", b"", [*bearer(TOKENS["demo"]), ("x-custom", "kept")])
    seen = dict(json.loads(out.messages[0]))
    assert "authorization" not in seen and seen["x-custom"] == "kept" and seen["x-forwarded-proto"] == "http"


def test_many_concurrent_streams_on_one_connection(rig: MeshgateRig) -> None:
    """Each stream is decided on its own: 20 calls, alternately with and without a token, one channel."""
    with channel(rig.port("plain"), authority=GRPC_HOST) as ch:
        rpc = ch.unary_unary(HEALTH_CHECK, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        futures = [rpc.future(health_request(), metadata=bearer(TOKENS["demo" if i % 2 else "none"]))
                   for i in range(20)]  # fmt: skip
        codes = [f.code() if f.exception() else grpc.StatusCode.OK for f in futures]
    assert codes == [grpc.StatusCode.OK if i % 2 else grpc.StatusCode.PERMISSION_DENIED for i in range(20)]


# --- plain HTTP/2 with curl: the seed's three answers ---------------------------------------------------
def _curl(*args: str) -> tuple[str, list[tuple[str, str]], str]:
    out = subprocess.run(
        ["curl", "-s", "-i", "--max-time", "5", *args], capture_output=True, check=True
    ).stdout
    head, _, body = out.decode().partition("\r\n\r\n")
    status, *lines = head.split("\r\n")
    return status, [(k, v) for k, _, v in (line.partition(": ") for line in lines)], body


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
@pytest.mark.parametrize("mode", ["--http2-prior-knowledge", "--http2 over TLS"])
@pytest.mark.parametrize("token", ["none", "other", "demo"])
def test_seed_answers_over_http2_with_curl(rig: MeshgateRig, mode: str, token: str) -> None:
    status, headers, body = SEED_OVER_H2[token]
    auth = [] if TOKENS[token] is None else ["-H", f"Authorization: Bearer {TOKENS[token]}"]
    if mode == "--http2 over TLS":
        args = ["--http2", "--cacert", rig.ca.ca_file, f"https://localhost:{rig.port('web-tls')}{PLAIN_PATH}"]
        headers = [
            realm("https", WEB_HOST, PLAIN_PATH) if k == "www-authenticate" else (k, v) for k, v in headers
        ]
    else:
        args = ["--http2-prior-knowledge", f"http://127.0.0.1:{rig.port('web')}{PLAIN_PATH}"]
    got_status, got_headers, got_body = _curl("-H", f"Host: {WEB_HOST}", *auth, *args)
    assert got_status == f"HTTP/2 {status} " and got_body == body
    assert matches(got_headers, headers), got_headers


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
def test_curl_http2_on_plain_http_stays_http1(rig: MeshgateRig) -> None:
    status, _, body = _curl("--http2", "-H", f"Host: {WEB_HOST}", f"http://127.0.0.1:{rig.port('web')}/x")
    assert (status, body) == ("HTTP/1.1 403 Forbidden", DENIED)


def _raw_http1(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(data)
        s.settimeout(1.5)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
    return out


def test_h2c_upgrade_is_stripped_not_honoured(rig: MeshgateRig) -> None:
    before = len(rig.web.received)
    request = (
        f"GET /up HTTP/1.1\r\nHost: {WEB_HOST}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        f"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nAuthorization: Bearer {TOKENS['demo']}\r\n\r\n"
    )
    answer = _raw_http1(rig.port("web"), request.encode())
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    (seen,) = rig.web.received[before:]
    assert not {"upgrade", "connection", "http2-settings"} & {k.lower() for k, _ in seen.headers}


def test_http1_grpc_request_gets_the_grpc_local_reply(rig: MeshgateRig) -> None:
    body = grpc_frame(health_request())
    request = (f"POST {HEALTH_CHECK} HTTP/1.1\r\nHost: {GRPC_HOST}\r\nContent-Type: application/grpc\r\n"
               f"TE: trailers\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
    head = _raw_http1(rig.port("plain"), request).decode().split("\r\n")
    names = [line.partition(": ")[0] for line in head[1:] if line]
    assert head[0] == "HTTP/1.1 200 OK" and "grpc-status: 7" in head and f"grpc-message: {DENIED}" in head
    assert names == [
        "content-type", "grpc-status", "grpc-message", "date", "server", "connection", "content-length"
    ]  # fmt: skip
    assert head[-3:] == ["content-length: 0", "", ""]


def test_http1_client_on_h2_upstream_gets_chunks_and_no_trailers(rig: MeshgateRig) -> None:
    """An allowed non-gRPC-framed HTTP/1.1 request relayed to the h2 upstream: the answer is chunked and its
    trailers are dropped (Envoy's HTTP/1 codec without enable_trailers, docs/http2-notes.md §3)."""
    body = grpc_frame(health_request())
    request = (f"POST {HEALTH_CHECK} HTTP/1.1\r\nHost: {GRPC_HOST}\r\nContent-Type: application/grpc\r\n"
               f"Authorization: Bearer {TOKENS['demo']}\r\nTE: trailers\r\nContent-Length: {len(body)}\r\n"
               "\r\n").encode() + body  # fmt: skip
    answer = _raw_http1(rig.port("plain"), request)
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"transfer-encoding: chunked" in head
    assert rest.endswith(b"0\r\n\r\n") and b"grpc-status" not in rest
