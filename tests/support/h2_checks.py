"""The HTTP/2 and gRPC behaviours of the phase-1 fact tables, as checks one can point at any gateway: the real
Envoy 1.40 rig (tests/parity/test_grpc_envoy_facts.py) and meshgate (tests/gateway/test_h2_grpc.py) run the
very same assertions, each with its own ports. Expected answers are the data of tests/support/h2_facts.py."""

from __future__ import annotations

import json
import socket
import subprocess

import grpc
from tests.support.grpc_servers import (
    HEALTH_WATCH,
    NOT_SERVING,
    SERVING,
    GrpcServer,
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
    HEALTH_CHECK,
    PLAIN_PATH,
    SEED_OVER_H2,
    TOKENS,
    UPSTREAM_FAIL_HEADERS,
    UPSTREAM_FAIL_REQUEST,
    UPSTREAM_OK_HEADERS,
    UPSTREAM_OK_TRAILERS,
    WEB_HOST,
    GrpcRow,
    matches,
    plain_reply,
    realm,
)
from tests.support.recording_upstream import RecordingUpstream

PROBE = "/meshgate.test.Probe/"
Expected = list[tuple[str, str]]


def grpc_local_reply(port: int, row: GrpcRow, expected: Expected) -> None:
    """source/common/http/utility.cc prepareLocalReply/encodeLocalReply: one HEADERS frame, END_STREAM."""
    headers = [("content-type", row.content_type), ("te", "trailers"), *bearer(TOKENS[row.token]), *row.extra]
    body = grpc_frame(health_request()) if row.method == "POST" else b""
    with H2Client(port) as client:
        r = client.exchange(row.method, row.path, row.authority, headers, body)
    assert matches(r.headers, expected), r.headers
    assert (r.headers_ended_stream, r.data, r.trailers, r.reset) == (True, b"", None, None)


def grpc_local_reply_over_tls(port: int, ca_file: str, token: str, expected: Expected) -> None:
    """ALPN h2 is chosen; the same trailers-only reply, the realm says https (the connection's scheme)."""
    with H2Client(port, ca_file=ca_file) as client:
        assert client.alpn == "h2"
        r = client.exchange("POST", HEALTH_CHECK, GRPC_HOST, grpc_headers(TOKENS[token]), grpc_frame(b""))
    assert matches(r.headers, expected) and r.headers_ended_stream, r.headers


def not_grpc_gets_the_plain_reply(port: int, content_type: str) -> None:
    """source/common/grpc/common.cc hasGrpcContentType: exactly application/grpc or application/grpc+…"""
    with H2Client(port) as client:
        r = client.exchange("POST", HEALTH_CHECK, GRPC_HOST, [("content-type", content_type)], b"x")
    assert matches(r.headers, plain_reply(403, DENIED)), r.headers
    assert (r.headers_ended_stream, r.data, r.data_frames, r.ended) == (False, DENIED.encode(), 1, True)


def allowed_unary_call_relayed_with_trailers(port: int, ca_file: str | None) -> None:
    with H2Client(port, ca_file=ca_file) as client:
        r = client.exchange(
            "POST", HEALTH_CHECK, GRPC_HOST, grpc_headers(TOKENS["demo"]), grpc_frame(health_request())
        )
    assert matches(r.headers, UPSTREAM_OK_HEADERS), r.headers
    assert [health_status(m) for m in grpc_messages(r.data)] == [SERVING]
    assert r.trailers == UPSTREAM_OK_TRAILERS and not r.headers_ended_stream


def upstream_grpc_error_relayed_untouched(port: int) -> None:
    """The server's trailers-only error stays trailers-only; its percent-encoding is kept byte for byte."""
    body = grpc_frame(UPSTREAM_FAIL_REQUEST.encode())
    with H2Client(port) as client:
        r = client.exchange("POST", PROBE + "Fail", GRPC_HOST, grpc_headers(TOKENS["demo"]), body)
    assert matches(r.headers, UPSTREAM_FAIL_HEADERS) and r.headers_ended_stream, r.headers


def grpcio_unary(
    port: int, ca_file: str | None, token: str, code: grpc.StatusCode, details: str, challenge: bool
) -> None:
    """A real grpcio client: the token in metadata; a refusal arrives as status + details."""
    with channel(port, ca_file, authority=GRPC_HOST) as ch:
        out = call_unary(ch, HEALTH_CHECK, health_request(), bearer(TOKENS[token]))
    assert (out.code, out.details) == (code, details)
    scheme = "https" if ca_file else "http"
    assert out.trailing("www-authenticate") == (
        [realm(scheme, GRPC_HOST, HEALTH_CHECK)[1]] if challenge else []
    )
    if code == grpc.StatusCode.OK:
        assert [health_status(m) for m in out.messages] == [SERVING]


def grpcio_server_streaming(port: int, ca_file: str | None, server: GrpcServer, service: str) -> None:
    """Several messages on one stream (Probe/Count), and the health Watch following a status change."""
    with channel(port, ca_file, authority=GRPC_HOST) as ch:
        out = call_stream(ch, PROBE + "Count", b"5", bearer(TOKENS["demo"]))
        assert (out.code, out.messages) == (grpc.StatusCode.OK, [f"message {i}".encode() for i in range(5)])
        server.set_health(service, SERVING)
        rpc = ch.unary_stream(HEALTH_WATCH, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        watch = rpc(health_request(service), metadata=bearer(TOKENS["demo"]), timeout=5)
        first = health_status(next(watch))
        server.set_health(service, NOT_SERVING)
        second = health_status(next(watch))
        watch.cancel()
    assert (first, second) == (SERVING, NOT_SERVING)


def upstream_never_sees_the_token(port: int) -> None:
    """jwt_authn without forwardOriginalToken removes the Authorization header (Probe/Echo shows metadata)."""
    with channel(port, authority=GRPC_HOST) as ch:
        out = call_unary(ch, PROBE + "Echo", b"", [*bearer(TOKENS["demo"]), ("x-custom", "kept")])
    seen = dict(json.loads(out.messages[0]))
    assert "authorization" not in seen and seen["x-custom"] == "kept" and seen["x-forwarded-proto"] == "http"


def curl(*args: str) -> tuple[str, list[tuple[str, str]], str]:
    out = subprocess.run(
        ["curl", "-s", "-i", "--max-time", "5", *args], capture_output=True, check=True
    ).stdout
    head, _, body = out.decode().partition("\r\n\r\n")
    status, *lines = head.split("\r\n")
    return status, [(k, v) for k, _, v in (line.partition(": ") for line in lines)], body


def seed_answer_over_http2_with_curl(plain_port: int, tls_port: int | None, ca_file: str, token: str) -> None:
    """The seed's answer for `token` with curl: prior knowledge on `plain_port`, or ALPN on `tls_port`."""
    status, headers, body = SEED_OVER_H2[token]
    auth = [] if TOKENS[token] is None else ["-H", f"Authorization: Bearer {TOKENS[token]}"]
    if tls_port is not None:
        args = ["--http2", "--cacert", ca_file, f"https://localhost:{tls_port}{PLAIN_PATH}"]
        headers = [
            realm("https", WEB_HOST, PLAIN_PATH) if k == "www-authenticate" else (k, v) for k, v in headers
        ]
    else:
        args = ["--http2-prior-knowledge", f"http://127.0.0.1:{plain_port}{PLAIN_PATH}"]
    got_status, got_headers, got_body = curl("-H", f"Host: {WEB_HOST}", *auth, *args)
    assert got_status == f"HTTP/2 {status} " and got_body == body
    assert matches(got_headers, headers), got_headers  # lower-case names, no `connection`


def curl_http2_on_plain_http_stays_http1(port: int) -> None:
    """curl --http2 on http:// sends `Upgrade: h2c`; Envoy answers HTTP/1.1 (the upgrade is ignored)."""
    status, _, body = curl("--http2", "-H", f"Host: {WEB_HOST}", f"http://127.0.0.1:{port}/x")
    assert (status, body) == ("HTTP/1.1 403 Forbidden", DENIED)


def raw_http1(port: int, data: bytes) -> bytes:
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


def h2c_upgrade_stripped_not_honoured(port: int, web: RecordingUpstream) -> None:
    """envoyproxy/envoy:source/common/http/http1/codec_impl.cc: "Ignore h2c upgrade requests until we
    support them" — Upgrade, HTTP2-Settings and their Connection tokens are removed; HTTP/1.1 answers."""
    before = len(web.received)
    request = (
        f"GET /up HTTP/1.1\r\nHost: {WEB_HOST}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        f"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nAuthorization: Bearer {TOKENS['demo']}\r\n\r\n"
    )
    answer = raw_http1(port, request.encode())
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    (seen,) = web.received[before:]
    assert not {"upgrade", "connection", "http2-settings"} & {k.lower() for k, _ in seen.headers}


def http1_grpc_request_gets_the_grpc_local_reply(port: int) -> None:
    """Over HTTP/1.1 too: 200 with grpc-status in the headers; the HTTP/1 codec adds `content-length: 0`,
    and `connection: close` because the request body was not read."""
    body = grpc_frame(health_request())
    request = (f"POST {HEALTH_CHECK} HTTP/1.1\r\nHost: {GRPC_HOST}\r\nContent-Type: application/grpc\r\n"
               f"TE: trailers\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
    head = raw_http1(port, request).decode().split("\r\n")
    names = [line.partition(": ")[0] for line in head[1:] if line]
    assert head[0] == "HTTP/1.1 200 OK" and "grpc-status: 7" in head and f"grpc-message: {DENIED}" in head
    assert names == [
        "content-type", "grpc-status", "grpc-message", "date", "server", "connection", "content-length"
    ]  # fmt: skip
    assert head[-3:] == ["content-length: 0", "", ""]
