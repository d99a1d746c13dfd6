"""Header blocks and reply bytes without sockets: local replies, the upstream request head, the downstream
response head, request-head rejections, `--upstream` / `--listen` parsing, the built-in app's body.

Layouts are the ones observed on Envoy 1.40 (see gateway/local_reply.py and gateway/heads.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from meshgate.engine.status import reason_phrase
from meshgate.errors import UsageError
from meshgate.gateway.builtin_app import hello_body
from meshgate.gateway.heads import downstream_response_head, upstream_request_head
from meshgate.gateway.http1.upstream import UpstreamTarget
from meshgate.gateway.local_reply import local_reply
from meshgate.gateway.request_head import RequestHead

DATE = b"date: Sun, 29 Nov 2026 09:05:00 GMT\r\n"
SERVER = b"server: istio-envoy\r\n"

LOCAL_REPLIES: list[tuple[str, dict[str, Any], bytes]] = [
    ("body-after-filter-headers",  # jwt_authn 401 (observed)
     dict(status=401, body="Jwt is expired", headers=(("www-authenticate", 'Bearer realm="http://h/"'),)),
     b'HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="http://h/"\r\ncontent-length: 14\r\n'
     b"content-type: text/plain\r\n" + DATE + SERVER + b"\r\nJwt is expired"),
    ("head-keeps-length-drops-body", dict(status=403, body="RBAC: access denied", head=True),
     b"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n" + DATE + SERVER
     + b"\r\n"),
    ("close-after-server", dict(status=503, body="x", close=True),
     b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 1\r\ncontent-type: text/plain\r\n" + DATE + SERVER
     + b"connection: close\r\n\r\nx"),
    ("empty-body-length-last", dict(status=400, body="", close=True),
     b"HTTP/1.1 400 Bad Request\r\n" + DATE + SERVER + b"connection: close\r\ncontent-length: 0\r\n\r\n"),
    ("empty-body-head-says-chunked", dict(status=400, body="", close=True, head=True),
     b"HTTP/1.1 400 Bad Request\r\n" + DATE + SERVER
     + b"connection: close\r\ntransfer-encoding: chunked\r\n\r\n"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "expected"), [r[1:] for r in LOCAL_REPLIES], ids=[r[0] for r in LOCAL_REPLIES]
)
def test_local_reply_layout(kwargs: dict[str, Any], expected: bytes) -> None:
    args = dict(kwargs)
    assert local_reply(args.pop("status"), args.pop("body"), date=DATE, **args) == expected


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(413, "Payload Too Large"), (426, "Upgrade Required"), (431, "Request Header Fields Too Large"),
     (418, "Unknown"), (299, "Unknown")],  # envoyproxy/envoy:source/common/http/codes.cc
)  # fmt: skip
def test_envoy_reason_phrases(status: int, phrase: str) -> None:
    assert reason_phrase(status) == phrase


def up_head(headers: list[tuple[bytes, bytes]], **kwargs: Any) -> list[bytes]:
    head, _, _ = upstream_request_head(b"GET", b"/p", headers, peer_ip=b"10.0.0.9", scheme=b"http", **kwargs)
    assert head.startswith(b"GET /p HTTP/1.1\r\n") and head.endswith(b"\r\n\r\n")
    return head[len(b"GET /p HTTP/1.1\r\n") : -4].split(b"\r\n")


RID = (b"X-Request-Id", b"rid-1")
UPSTREAM_HEADS: list[tuple[str, list[tuple[bytes, bytes]], dict[str, Any], list[bytes]]] = [
    ("forwarding-headers-appended", [(b"Host", b"h")], {},
     [b"host: h", b"x-forwarded-for: 10.0.0.9", b"x-forwarded-proto: http", b"x-request-id: <uuid>"]),
    ("xff-appended-in-place-xfp-overwritten",
     [(b"X-Forwarded-For", b"1.1.1.1"), (b"X-Forwarded-Proto", b"https"),
      (b"X-Forwarded-For", b" 2.2.2.2"), RID],
     {}, [b"x-forwarded-for: 1.1.1.1,2.2.2.2,10.0.0.9", b"x-forwarded-proto: http", b"x-request-id: rid-1"]),
    ("hop-by-hop-and-connection-listed-dropped",
     [(b"Connection", b"keep-alive, X-Hop"), (b"X-Hop", b"1"), (b"Keep-Alive", b"5"),
      (b"Proxy-Connection", b"k"), (b"TE", b"gzip"), (b"Trailer", b"x"), (b"Upgrade", b"h2c"),
      (b"X-Keep", b"2"), RID],
     {}, [b"x-keep: 2", b"x-request-id: rid-1", b"x-forwarded-for: 10.0.0.9", b"x-forwarded-proto: http"]),
    ("te-trailers-kept", [(b"TE", b"trailers"), RID], {},
     [b"te: trailers", b"x-request-id: rid-1", b"x-forwarded-for: 10.0.0.9", b"x-forwarded-proto: http"]),
    ("engine-edits-remove-then-set",
     [(b"Authorization", b"Bearer t"), (b"X-Payload", b"forged"), RID],
     {"drop": frozenset({b"authorization", b"x-payload"}), "set_headers": (("x-payload", "eyJ9"),)},
     [b"x-request-id: rid-1", b"x-forwarded-for: 10.0.0.9", b"x-forwarded-proto: http", b"x-payload: eyJ9"]),
    ("expect-dropped-chunked-reframed",
     [(b"Expect", b"100-continue"), (b"Transfer-Encoding", b"chunked"), RID], {"chunked": True},
     [b"x-request-id: rid-1", b"x-forwarded-for: 10.0.0.9", b"x-forwarded-proto: http",
      b"transfer-encoding: chunked"]),
    ("websocket-upgrade-pair-kept", [(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"), RID],
     {"upgrade": b"websocket"},
     [b"x-request-id: rid-1", b"x-forwarded-for: 10.0.0.9", b"x-forwarded-proto: http",
      b"connection: upgrade", b"upgrade: websocket"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "kwargs", "expected"), [r[1:] for r in UPSTREAM_HEADS], ids=[r[0] for r in UPSTREAM_HEADS]
)
def test_upstream_request_head(
    headers: list[tuple[bytes, bytes]], kwargs: dict[str, Any], expected: list[bytes]
) -> None:
    lines = up_head(headers, **kwargs)
    generated = [
        line for line in lines if line.startswith(b"x-request-id: ") and line != b"x-request-id: rid-1"
    ]
    if generated:
        assert len(generated[0]) == len(b"x-request-id: ") + 36
        lines = [b"x-request-id: <uuid>" if line in generated else line for line in lines]
    assert lines == expected


DOWN_HEADS: list[tuple[str, list[tuple[bytes, bytes]], dict[str, Any], bytes]] = [
    ("server-in-place-date-kept",  # observed: upstream `Server: foo`, `Date` kept, reason phrase Envoy's
     [(b"Server", b"foo"), (b"Date", b"Mon, 01 Jan 2024 00:00:00 GMT"), (b"Content-Length", b"2")],
     {"service_time_ms": 0},
     b"HTTP/1.1 201 Created\r\nserver: istio-envoy\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
     b"content-length: 2\r\nx-envoy-upstream-service-time: 0\r\n\r\n"),
    ("no-server-order-then-close",  # observed: service-time, date, server, connection: close
     [(b"X-A", b"1"), (b"Content-Length", b"2")], {"service_time_ms": 3, "close": True},
     b"HTTP/1.1 201 Created\r\nx-a: 1\r\ncontent-length: 2\r\nx-envoy-upstream-service-time: 3\r\n"
     + DATE + SERVER + b"connection: close\r\n\r\n"),
    ("rechunked-te-last-hop-by-hop-dropped",
     [(b"Transfer-Encoding", b"chunked"), (b"Connection", b"keep-alive"), (b"Keep-Alive", b"timeout=5")],
     {"service_time_ms": 0, "chunked": True},
     b"HTTP/1.1 201 Created\r\nx-envoy-upstream-service-time: 0\r\n" + DATE + SERVER
     + b"transfer-encoding: chunked\r\n\r\n"),
    ("connection-listed-name-dropped-even-before-it",
     [(b"X-A", b"1"), (b"Connection", b"keep-alive, X-A"), (b"Content-Length", b"2")], {"service_time_ms": 0},
     b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nx-envoy-upstream-service-time: 0\r\n" + DATE + SERVER
     + b"\r\n"),
    ("connection-listed-date-and-server-rewritten-last",
     [(b"Server", b"foo"), (b"Date", b"Mon, 01 Jan 2024 00:00:00 GMT"), (b"Connection", b"date, server")],
     {"service_time_ms": 0},
     b"HTTP/1.1 201 Created\r\nx-envoy-upstream-service-time: 0\r\n" + DATE + SERVER + b"\r\n"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "kwargs", "expected"), [r[1:] for r in DOWN_HEADS], ids=[r[0] for r in DOWN_HEADS]
)
def test_downstream_response_head(
    headers: list[tuple[bytes, bytes]], kwargs: dict[str, Any], expected: bytes
) -> None:
    assert downstream_response_head(201, headers, date_line=DATE, **kwargs) == expected


# A response that ends with its head (an HTTP/2 upstream's trailers-only gRPC answer, a relayed sidecar reply):
# Envoy's HTTP/1 codec adds `content-length: 0` last when the status allows a body and none is declared
# (envoyproxy/envoy:source/common/http/http1/codec_impl.cc encodeHeadersBase); not for 204/304 or a length.
HEADERS_ONLY: list[tuple[str, int, list[tuple[bytes, bytes]], bytes]] = [
    ("grpc-trailers-only-gets-a-zero-length", 200, [(b"grpc-status", b"7")],
     b"HTTP/1.1 200 OK\r\ngrpc-status: 7\r\n" + DATE + SERVER + b"content-length: 0\r\n\r\n"),
    ("declared-length-kept", 200, [(b"content-length", b"0")],
     b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n" + DATE + SERVER + b"\r\n"),
    ("no-length-on-204", 204, [], b"HTTP/1.1 204 No Content\r\n" + DATE + SERVER + b"\r\n"),
    ("no-length-on-304", 304, [], b"HTTP/1.1 304 Not Modified\r\n" + DATE + SERVER + b"\r\n"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "headers", "expected"), [r[1:] for r in HEADERS_ONLY], ids=[r[0] for r in HEADERS_ONLY]
)
def test_headers_only_response_is_framed(
    status: int, headers: list[tuple[bytes, bytes]], expected: bytes
) -> None:
    assert downstream_response_head(status, headers, date_line=DATE, headers_only=True) == expected


def test_101_keeps_the_upgrade_pair() -> None:
    head = downstream_response_head(
        101, [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")], date_line=DATE, upgrade=True
    )
    assert head.startswith(
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
    )


REJECTIONS: list[tuple[str, list[tuple[bytes, bytes]], dict[str, Any], tuple[int, str] | None]] = [
    ("http10-426", [(b"Host", b"h")], {"http_version": "1.0"}, (426, "Upgrade Required")),
    ("missing-host-400", [], {}, (400, "")),
    ("other-upgrade-403", [(b"Host", b"h"), (b"Upgrade", b"foo")], {"upgrade_requested": True}, (403, "")),
    # envoyproxy/envoy:source/common/http/http1/codec_impl.cc ignores h2c upgrades (tests/parity/
    # test_grpc_envoy_facts.py test_h2c_upgrade_is_stripped_not_honoured): a plain HTTP/1.1 request
    ("h2c-upgrade-ignored", [(b"Host", b"h"), (b"Upgrade", b"h2c")], {"upgrade_requested": True}, None),
    ("websocket-accepted", [(b"Host", b"h"), (b"Upgrade", b"WebSocket")], {"upgrade_requested": True}, None),
    ("plain-accepted", [(b"Host", b"h")], {}, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "kwargs", "reject"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_request_head_rejections(
    headers: list[tuple[bytes, bytes]], kwargs: dict[str, Any], reject: tuple[int, str] | None
) -> None:
    assert RequestHead(b"GET", b"/", headers, **kwargs).reject == reject


H = (b"Host", b"h")
# What RequestHead refuses beyond llhttp (observed answers of Envoy 1.40 unless marked meshgate).
HEAD_REJECTIONS: list[tuple[str, bytes, list[tuple[bytes, bytes]], tuple[int, str] | None]] = [
    ("te-chunked-ok", b"/", [H, (b"Transfer-Encoding", b" Chunked ")], None),
    ("te-gzip-501", b"/", [H, (b"Transfer-Encoding", b"gzip")], (501, "Not Implemented")),
    ("te-gzip-chunked-501", b"/", [H, (b"Transfer-Encoding", b"gzip, chunked")], (501, "Not Implemented")),
    ("te-two-fields-501", b"/", [H, (b"Transfer-Encoding", b"chunked")] * 2, (501, "Not Implemented")),
    ("te-before-host-check", b"/", [(b"Transfer-Encoding", b"x")], (501, "Not Implemented")),
    ("host-twice-400-meshgate", b"/", [H, (b"host", b"evil")], (400, "")),
    ("host-empty-400-meshgate", b"/", [(b"Host", b"")], (400, "")),
    ("asterisk-400", b"*", [H], (400, "Bad Request")),
    ("absolute-form-400-meshgate", b"http://h/x", [H], (400, "Bad Request")),
    ("fragment-400", b"/x#y", [H], (400, "")),
    ("query-ok", b"/x?y=/z", [H], None),
    ("connection-lists-xff-400", b"/", [H, (b"Connection", b"X-Forwarded-For")], (400, "Bad Request")),
    ("connection-lists-xfh-400", b"/", [H, (b"Connection", b"keep-alive, x-forwarded-host")], (400, "Bad Request")),
    ("connection-lists-xfp-400", b"/", [H, (b"Connection", b"x-forwarded-proto")], (400, "Bad Request")),
    ("connection-lists-pseudo-400", b"/", [H, (b"Connection", b":path")], (400, "Bad Request")),
    ("connection-10-tokens-400", b"/", [H, (b"Connection", b"a,b,c,d,e"), (b"Connection", b"f,g,h,i,j")],
     (400, "Bad Request")),
    ("connection-9-tokens-ok", b"/", [H, (b"Connection", b"a,b,c,d,e,f,g,h,i")], None),
    ("connection-lists-host-400", b"/", [H, (b"Connection", b"Host")], (400, "")),
    ("connection-keep-alive-ok", b"/", [H, (b"Connection", b"keep-alive")], None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "headers", "reject"), [r[1:] for r in HEAD_REJECTIONS], ids=[r[0] for r in HEAD_REJECTIONS]
)
def test_request_head_refusals(
    target: bytes, headers: list[tuple[bytes, bytes]], reject: tuple[int, str] | None
) -> None:
    assert RequestHead(b"GET", target, headers).reject == reject


@pytest.mark.parametrize("direction", ["request", "response"])
def test_a_listed_content_length_is_never_dropped(direction: str) -> None:
    """Dropping it while forwarding the body would let the peer read the body as the next message."""
    headers = [(b"Connection", b"content-length, x-hop"), (b"Content-Length", b"5"), (b"X-Hop", b"1")]
    if direction == "request":
        head = RequestHead(b"POST", b"/", [H, *headers])
        data, _, _ = upstream_request_head(
            b"POST", b"/", head.raw_headers, peer_ip=b"1.2.3.4", scheme=b"http", listed=head.listed
        )
    else:
        data = downstream_response_head(200, headers, date_line=DATE)
    assert b"content-length: 5\r\n" in data and b"x-hop" not in data


def test_claim_headers_are_sent_as_utf8() -> None:
    """Envoy writes header values as the claim's UTF-8 bytes; a non-latin-1 claim must not raise."""
    data, _, _ = upstream_request_head(
        b"GET", b"/", [H], peer_ip=b"1.2.3.4", scheme=b"http", set_headers=(("x-jwt-note", "中文"),)
    )
    assert "x-jwt-note: 中文\r\n".encode() in data


@pytest.mark.parametrize(
    ("headers", "has_body", "chunked", "expect"),
    [([(b"Content-Length", b"0")], False, False, False), ([(b"Content-Length", b"5")], True, False, False),
     ([(b"Transfer-Encoding", b"chunked")], True, True, False),
     ([(b"Content-Length", b"5"), (b"Expect", b"100-Continue")], True, False, True)],
)  # fmt: skip
def test_request_head_framing(
    headers: list[tuple[bytes, bytes]], has_body: bool, chunked: bool, expect: bool
) -> None:
    head = RequestHead(b"POST", b"/", [(b"Host", b"h"), *headers])
    assert (head.has_body, head.chunked, head.expect_continue) == (has_body, chunked, expect)


def test_request_head_groups_repeated_headers_for_the_engine() -> None:
    head = RequestHead(b"GET", b"/", [(b"Host", b"h"), (b"X-A", b"1"), (b"x-a", b"2")])
    assert head.attr_headers == {"host": ("h",), "x-a": ("1", "2")}


@pytest.mark.parametrize(
    ("url", "target"),
    [("http://app:8000", UpstreamTarget("app", 8000)), ("https://app", UpstreamTarget("app", 443, True)),
     ("http://[::1]:81/", UpstreamTarget("::1", 81)), ("http://app", UpstreamTarget("app", 80))],
)  # fmt: skip
def test_upstream_url(url: str, target: UpstreamTarget) -> None:
    assert UpstreamTarget.parse(url) == target


@pytest.mark.parametrize("url", ["ftp://app", "app:80", "http://app/base", "http://app:99999", "http://"])
def test_bad_upstream_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError):
        UpstreamTarget.parse(url)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/a/b?x=1", b"Hello World! /a/b"), ("/", b"Hello World! /"), ("/p#f", b"Hello World! /p")],
)
def test_builtin_app_body_excludes_the_query(path: str, body: bytes) -> None:
    assert hello_body(path) == body
