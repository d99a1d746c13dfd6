"""HTTP/1.1 attacks against a live `meshgate serve` over real sockets, with a raw recording upstream.

Each row asserts the exact response bytes (date masked), that the connection closed, and what reached the
upstream: for a head-level rejection not one byte; for a body-level one (the head was already streamed, as
Envoy streams it too) no complete request, and the upstream connection closed. Accepted rows must arrive
upstream as exactly one request with the stated body, nothing smuggled. The `envoy` column is what a real
Envoy 1.40 configured as an Istio gateway answered for the same bytes (`test_envoy_1_40_answers` re-asks
it); where it differs, meshgate is the stricter one — see docs/security.md "HTTP and transport".
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.gateway.conftest import DEMO_JWT, ServeProcess, mask_date, wait_until
from tests.security.conftest import LoopThread, RawUpstream, exchange
from tests.support.jwks_server import JwksServer, ec_jwks
from tests.support.servers import GatewayThread

from meshgate.gateway.serve import ServeOptions
from meshgate.jose.mint import build_claims, generate_key, sign_token

D = b"date: <DATE>\r\n"
SERVER = b"server: istio-envoy\r\n"
CLOSE = b"connection: close\r\n"
# Envoy 1.40's local replies (observed): codec errors carry a text body, HCM refusals an empty one.
CODEC_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\ncontent-type: text/plain\r\n" + D + SERVER
CODEC_400 += CLOSE + b"\r\nBad Request"
HCM_400 = b"HTTP/1.1 400 Bad Request\r\n" + D + SERVER + CLOSE + b"content-length: 0\r\n\r\n"
TE_501 = b"HTTP/1.1 501 Not Implemented\r\ncontent-length: 15\r\ncontent-type: text/plain\r\n" + D + SERVER
TE_501 += CLOSE + b"\r\nNot Implemented"
TOO_LARGE_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 31\r\ncontent-type: text/plain\r\n"
)
TOO_LARGE_431 += D + SERVER + CLOSE + b"\r\nRequest Header Fields Too Large"
VERSION_426 = (
    b"HTTP/1.1 426 Upgrade Required\r\ncontent-length: 16\r\ncontent-type: text/plain\r\n" + D + SERVER
)
VERSION_426 += CLOSE + b"\r\nUpgrade Required"
CONNECT_403 = b"HTTP/1.1 403 Forbidden\r\n" + D + SERVER + CLOSE + b"content-length: 0\r\n\r\n"
FORWARDED = b""  # the request is valid: the upstream answers 200

HOST = b"Host: ex.com\r\n"
AUTH = b"Authorization: Bearer " + DEMO_JWT.encode() + b"\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\n" + HOST + AUTH + b"\r\n"
HELLO_CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"


def rq(*fields: bytes, line: bytes = b"POST /x HTTP/1.1", body: bytes = b"", host: bytes = HOST) -> bytes:
    """A request with the seed's valid token, so only the HTTP layer can refuse it."""
    return line + b"\r\n" + host + AUTH + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body


def many(count: int, size: int = 1) -> tuple[bytes, ...]:
    return tuple(b"X-H%d: %s" % (i, b"v" * size) for i in range(count))


@dataclass(frozen=True)
class Attack:
    id: str
    request: bytes
    answer: bytes  # meshgate's exact response (date masked), or FORWARDED
    envoy: int  # Envoy 1.40's status for the same bytes (observed)
    stage: str = "head"  # where the request breaks: "head" (nothing forwarded) or "body" (head streamed)
    body: int = 0  # FORWARDED: body bytes the upstream must receive
    absent: bytes = b""  # FORWARDED: bytes that must not reach the upstream


A = Attack
CHUNKED = b"Transfer-Encoding: chunked"
ATTACKS = [
    # Content-Length (RFC 9112 §6.3: a bad or conflicting length is unrecoverable; llhttp refuses it)
    A("cl-conflicting", rq(b"Content-Length: 5", b"Content-Length: 6", body=b"hello!"), CODEC_400, 400),
    A("cl-duplicate-same", rq(b"Content-Length: 5", b"Content-Length: 5", body=b"hello"), CODEC_400, 400),
    A("cl-list-same", rq(b"Content-Length: 5, 5", body=b"hello"), CODEC_400, 400),
    A("cl-plus", rq(b"Content-Length: +5", body=b"hello"), CODEC_400, 400),
    A("cl-minus", rq(b"Content-Length: -5", body=b"hello"), CODEC_400, 400),
    A("cl-hex", rq(b"Content-Length: 0x5", body=b"hello"), CODEC_400, 400),
    A("cl-trailing-junk", rq(b"Content-Length: 5x", body=b"hello"), CODEC_400, 400),
    A("cl-inner-space", rq(b"Content-Length: 5 5", body=b"hello"), CODEC_400, 400),
    A("cl-empty", rq(b"Content-Length: "), CODEC_400, 400),
    A("cl-huge", rq(b"Content-Length: 99999999999999999999999", body=b"hello"), CODEC_400, 400),
    A("cl-2^64", rq(b"Content-Length: 18446744073709551616", body=b"hello"), CODEC_400, 400),
    A("cl-leading-zeros-valid", rq(b"Content-Length: 005", body=b"hello"), FORWARDED, 200, body=5),
    A("cl-ows-valid", rq(b"Content-Length:  5 ", body=b"hello"), FORWARDED, 200, body=5),
    # Transfer-Encoding (RFC 9112 §6.1: only a final chunked frames a request; Envoy: only `chunked`)
    A("te-gzip", rq(b"Transfer-Encoding: gzip", body=HELLO_CHUNKED), TE_501, 501),
    A("te-gzip-chunked", rq(b"Transfer-Encoding: gzip, chunked", body=HELLO_CHUNKED), TE_501, 501),
    A("te-xchunked", rq(b"Transfer-Encoding: xchunked", body=HELLO_CHUNKED), TE_501, 501),
    A("te-chunkedx", rq(b"Transfer-Encoding: chunkedx", body=HELLO_CHUNKED), TE_501, 501),
    A("te-identity", rq(b"Transfer-Encoding: identity"), TE_501, 501),
    A("te-chunked-gzip", rq(b"Transfer-Encoding: chunked, gzip", body=HELLO_CHUNKED), CODEC_400, 501),
    A("te-chunked-chunked", rq(b"Transfer-Encoding: chunked, chunked", body=HELLO_CHUNKED), CODEC_400, 501),
    A("te-two-fields", rq(CHUNKED, CHUNKED, body=HELLO_CHUNKED), CODEC_400, 501),
    A("te-te-chunked-then-x", rq(CHUNKED, b"Transfer-Encoding: x", body=b"0\r\n\r\n" + SMUGGLED), CODEC_400, 501),
    A("te-empty", rq(b"Transfer-Encoding: "), CODEC_400, 501),
    A("te-vtab", rq(b"Transfer-Encoding: \x0bchunked", body=HELLO_CHUNKED), CODEC_400, 400),
    A("te-space-before-colon", rq(b"Transfer-Encoding : chunked", body=HELLO_CHUNKED), CODEC_400, 400),
    A("te-obs-fold", rq(b"Transfer-Encoding:", b" chunked", body=HELLO_CHUNKED), CODEC_400, 200),
    A("te-http10", rq(CHUNKED, line=b"POST /x HTTP/1.0", body=HELLO_CHUNKED), VERSION_426, 426),
    A("te-ows-valid", rq(b"Transfer-Encoding:  chunked", body=HELLO_CHUNKED), FORWARDED, 200, body=5),
    A("te-tab-valid", rq(b"Transfer-Encoding:\tchunked", body=HELLO_CHUNKED), FORWARDED, 200, body=5),
    A("te-upper-case-valid", rq(b"Transfer-Encoding: CHUNKED", body=HELLO_CHUNKED), FORWARDED, 200, body=5),
    # Content-Length with Transfer-Encoding (RFC 9112 §6.3 ¶3: CL.TE / TE.CL smuggling)
    A("cl-te", rq(b"Content-Length: 6", CHUNKED, body=b"0\r\n\r\nG"), CODEC_400, 400),
    A("te-cl", rq(CHUNKED, b"Content-Length: 3", body=b"0\r\n\r\n"), CODEC_400, 400),
    A("cl-te-smuggle", rq(b"Content-Length: %d" % (5 + len(SMUGGLED)), CHUNKED, body=b"0\r\n\r\n" + SMUGGLED),
      CODEC_400, 400),
    A("te-gzip-cl", rq(b"Transfer-Encoding: gzip", b"Content-Length: 5", body=b"hello"), CODEC_400, 400),
    A("te-cl-get", rq(CHUNKED, b"Content-Length: 0", line=b"GET /x HTTP/1.1", body=b"0\r\n\r\n"), CODEC_400, 400),
    # chunked framing (RFC 9112 §7.1): the head is already streamed, the body breaks
    A("chunk-size-2^64", rq(CHUNKED, body=b"1" + b"0" * 16 + b"\r\nhello\r\n0\r\n\r\n"), CODEC_400, 400, "body"),
    A("chunk-size-negative", rq(CHUNKED, body=b"-5\r\nhello\r\n0\r\n\r\n"), CODEC_400, 400, "body"),
    A("chunk-size-space", rq(CHUNKED, body=b" 5\r\nhello\r\n0\r\n\r\n"), CODEC_400, 400, "body"),
    A("chunk-size-0x", rq(CHUNKED, body=b"0x5\r\nhello\r\n0\r\n\r\n"), CODEC_400, 400, "body"),
    A("chunk-bare-lf", rq(CHUNKED, body=b"5\nhello\n0\n\n"), CODEC_400, 400, "body"),
    A("chunk-ext-bare-cr", rq(CHUNKED, body=b"5;a\rb\r\nhello\r\n0\r\n\r\n"), CODEC_400, 400, "body"),
    A("chunk-data-too-long", rq(CHUNKED, body=b"3\r\nhello\r\n0\r\n\r\n"), CODEC_400, 200, "body"),
    A("chunk-trailer-content-length", rq(CHUNKED, body=b"5\r\nhello\r\n0\r\nContent-Length: 9\r\n\r\n"),
      CODEC_400, 200, "body"),
    A("chunk-ext-valid", rq(CHUNKED, body=b"5;a=b\r\nhello\r\n0\r\n\r\n"), FORWARDED, 200, body=5),
    A("chunk-trailer-dropped", rq(CHUNKED, body=b"5\r\nhello\r\n0\r\nX-Trailer-Evil: 1\r\n\r\n"),
      FORWARDED, 200, body=5, absent=b"x-trailer-evil"),
    # field syntax (RFC 9112 §5: no obs-fold, no whitespace before the colon; RFC 9110 §5.5: no CR/LF/NUL)
    A("obs-fold", rq(b"X-A: a", b" b", line=b"GET /x HTTP/1.1"), CODEC_400, 200),
    A("obs-fold-tab", rq(b"X-A: a", b"\tb", line=b"GET /x HTTP/1.1"), CODEC_400, 200),
    A("first-field-folded", b"GET /x HTTP/1.1\r\n " + HOST + AUTH + b"\r\n", CODEC_400, 400),
    A("nul-in-value", rq(b"X-A: a\x00b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("nul-in-name", rq(b"X-\x00A: b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("bare-cr-in-value", rq(b"X-A: a\rb", line=b"GET /x HTTP/1.1"), CODEC_400, 200),
    A("bare-cr-line-end", b"GET /x HTTP/1.1\rHost: ex.com\r" + AUTH + b"\r\n", CODEC_400, 400),
    A("bare-lf-line-ends", b"GET /x HTTP/1.1\nHost: ex.com\n" + AUTH.replace(b"\r\n", b"\n") + b"\n",
      CODEC_400, 200),
    A("bare-lf-one-field", rq(b"X-A: b\n", line=b"GET /x HTTP/1.1"), CODEC_400, 200),
    A("ctl-in-value", rq(b"X-A: a\x01b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("del-in-value", rq(b"X-A: a\x7fb", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("space-before-colon", rq(b"X-A : b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("tab-before-colon", rq(b"X-A\t: b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("cl-space-before-colon", rq(b"Content-Length : 5", body=b"hello"), CODEC_400, 400),
    A("name-paren", rq(b"X(A): b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("name-space", rq(b"X A: b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("name-high-byte", rq(b"X-\xe9: b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("name-empty", rq(b": b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("name-slash", rq(b"X/A: b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("no-colon", rq(b"X-A b", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("obs-text-value-valid", rq(b"X-A: a\xffb", line=b"GET /x HTTP/1.1"), FORWARDED, 200),
    # request line (RFC 9112 §3: method is a case-sensitive token, origin-form target, HTTP/1.1)
    A("absolute-form", rq(line=b"GET http://ex.com/x HTTP/1.1"), CODEC_400, 200),
    A("absolute-form-other-host", rq(line=b"GET http://evil.com/x HTTP/1.1"), CODEC_400, 200),
    A("asterisk-form", rq(line=b"OPTIONS * HTTP/1.1"), CODEC_400, 404),
    A("asterisk-get", rq(line=b"GET * HTTP/1.1"), CODEC_400, 400),
    A("authority-form-connect", rq(line=b"CONNECT ex.com:443 HTTP/1.1"), CONNECT_403, 403),
    A("origin-without-slash", rq(line=b"GET x HTTP/1.1"), CODEC_400, 400),
    A("fragment-in-target", rq(line=b"GET /x#y HTTP/1.1"), HCM_400, 400),
    A("lower-case-method", rq(line=b"get /x HTTP/1.1"), CODEC_400, 400),
    A("mixed-case-method", rq(line=b"Get /x HTTP/1.1"), CODEC_400, 400),
    A("unknown-method", rq(line=b"FOO /x HTTP/1.1"), CODEC_400, 400),
    A("tab-in-request-line", rq(line=b"GET\t/x HTTP/1.1"), CODEC_400, 200),
    A("space-in-target", rq(line=b"GET /x y HTTP/1.1"), CODEC_400, 400),
    A("nul-in-target", rq(line=b"GET /x\x00y HTTP/1.1"), CODEC_400, 400),
    A("ctl-in-target", rq(line=b"GET /x\x01y HTTP/1.1"), CODEC_400, 400),
    A("high-byte-in-target", rq(line=b"GET /x\xffy HTTP/1.1"), CODEC_400, 400),
    A("version-1.2", rq(line=b"GET /x HTTP/1.2"), CODEC_400, 426),
    A("version-2.0", rq(line=b"GET /x HTTP/2.0"), VERSION_426, 426),
    A("version-lower-case", rq(line=b"GET /x http/1.1"), CODEC_400, 400),
    A("version-missing", rq(line=b"GET /x"), VERSION_426, 426),
    A("double-space-request-line", rq(line=b"GET  /x HTTP/1.1"), FORWARDED, 200),
    A("leading-empty-line-valid", b"\r\n" + rq(line=b"GET /x HTTP/1.1"), FORWARDED, 200),
    # Host (RFC 9112 §3.2: exactly one)
    A("host-missing", b"GET /x HTTP/1.1\r\n" + AUTH + b"\r\n", HCM_400, 400),
    A("host-twice", rq(b"Host: evil.com", line=b"GET /x HTTP/1.1"), HCM_400, 200),
    A("host-empty", rq(line=b"GET /x HTTP/1.1", host=b"Host: \r\n"), HCM_400, 200),
    # Connection-listed fields (hop-by-hop abuse; Envoy sanitizeConnectionHeader)
    A("connection-lists-content-length", rq(b"Connection: content-length", b"Content-Length: 5", body=b"hello"),
      FORWARDED, 200, body=5),
    A("connection-lists-host", rq(b"Connection: host", line=b"GET /x HTTP/1.1"), HCM_400, 400),
    A("connection-lists-xff", rq(b"Connection: x-forwarded-for", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("connection-lists-xfh", rq(b"Connection: X-Forwarded-Host", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("connection-lists-xfp", rq(b"Connection: x-forwarded-proto", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("connection-lists-pseudo", rq(b"Connection: :authority", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("connection-10-tokens", rq(b"Connection: a,b,c,d,e,f,g,h,i,j", line=b"GET /x HTTP/1.1"), CODEC_400, 400),
    A("connection-9-tokens-valid", rq(b"Connection: a,b,c,d,e,f,g,h,i", b"A: 1", line=b"GET /x HTTP/1.1"),
      FORWARDED, 200, absent=b"a: 1"),
    # header block limits (max_request_headers_kb 60, max_headers_count 100; Host + Authorization count)
    A("headers-100-valid", rq(*many(98), line=b"GET /x HTTP/1.1"), FORWARDED, 200),
    A("headers-101", rq(*many(99), line=b"GET /x HTTP/1.1"), TOO_LARGE_431, 431),
    A("headers-1000", rq(*many(1000), line=b"GET /x HTTP/1.1"), TOO_LARGE_431, 431),
    A("headers-61-kib-one-field", rq(b"X-Big: " + b"a" * 61 * 1024, line=b"GET /x HTTP/1.1"), TOO_LARGE_431, 431),
    A("headers-61-kib-many-fields", rq(*many(90, 700), line=b"GET /x HTTP/1.1"), TOO_LARGE_431, 431),
    A("url-61-kib", rq(line=b"GET /" + b"a" * 61 * 1024 + b" HTTP/1.1"), TOO_LARGE_431, 431),
]  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(live_gateway: ServeProcess, raw_upstream: RawUpstream, attack: Attack) -> None:
    raw_upstream.clear()
    forwarded = attack.answer == FORWARDED
    out = exchange(live_gateway.port, attack.request, responses=1 if forwarded else None)
    if forwarded:
        assert out.statuses == [200] and not out.closed, out
        assert wait_until(lambda: raw_upstream.requests)
        assert raw_upstream.requests == [("/x", attack.body)]
        received = raw_upstream.received().lower()
        assert received.count(b" http/1.1\r\n") == 1 and b"/smuggled" not in received
        assert not attack.absent or attack.absent not in received
        return
    assert mask_date(out.raw) == attack.answer
    assert out.closed
    if attack.stage == "head":
        assert raw_upstream.received() == b""
        return
    conns = raw_upstream.connections_with(b"POST /x ")  # the head was streamed: the request never ends
    assert wait_until(lambda: conns <= raw_upstream.closed)
    assert raw_upstream.requests == []


# (id, bytes, meshgate's statuses, Envoy 1.40's statuses): a valid request, then the attack carrying a
# smuggled `GET /smuggled` — the upstream must never see it as a request (PortSwigger CL.TE/TE.CL/TE.TE).
VALID_GET = rq(line=b"GET /x HTTP/1.1")
PIPELINED = [
    ("cl-te", VALID_GET + rq(b"Content-Length: 5", CHUNKED, body=b"0\r\n\r\n" + SMUGGLED), [200, 400], [200, 400]),
    ("te-cl", VALID_GET + rq(CHUNKED, b"Content-Length: 4", body=b"%x\r\n%b\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)),
     [200, 400], [200, 400]),
    ("te-te", VALID_GET + rq(CHUNKED, b"Transfer-Encoding: cow", body=b"0\r\n\r\n" + SMUGGLED), [200, 400], [200, 501]),
    ("te-obs-fold", VALID_GET + rq(b"Content-Length: 5", b"Transfer-Encoding:", b" chunked",
                                   body=b"0\r\n\r\n" + SMUGGLED), [200, 400], [200, 400]),
    ("te-gzip", VALID_GET + rq(b"Transfer-Encoding: gzip", body=b"0\r\n\r\n" + SMUGGLED), [200, 501], [200, 501]),
    ("connection-content-length", VALID_GET + rq(b"Connection: content-length",
                                                 b"Content-Length: %d" % len(SMUGGLED), body=SMUGGLED),
     [200, 200], [200, 200]),
]  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize(("data", "statuses"), [p[1:3] for p in PIPELINED], ids=[p[0] for p in PIPELINED])
def test_pipelined_smuggling(
    live_gateway: ServeProcess, raw_upstream: RawUpstream, data: bytes, statuses: list[int]
) -> None:
    raw_upstream.clear()
    out = exchange(live_gateway.port, data, responses=len(statuses))
    assert out.statuses == statuses
    assert out.closed is (statuses[-1] != 200)
    assert wait_until(lambda: len(raw_upstream.requests) >= statuses.count(200))
    time.sleep(0.1)
    assert [target for target, _ in raw_upstream.requests] == ["/x"] * statuses.count(200)  # no /smuggled


@pytest.mark.e2e
def test_body_broken_after_head_streamed_closes_the_upstream(
    live_gateway: ServeProcess, raw_upstream: RawUpstream
) -> None:
    """The upstream got the head and a chunk; a bad chunk then answers 400 and the upstream request is
    abandoned (its connection closed), never completed and never returned to the pool."""
    assert exchange(live_gateway.port, rq(line=b"GET /warm HTTP/1.1"), responses=1).statuses == [200]
    raw_upstream.clear()
    with socket.create_connection(("127.0.0.1", live_gateway.port), timeout=5) as sock:
        sock.sendall(rq(CHUNKED, line=b"POST /broken-body HTTP/1.1", body=b"5\r\nhello\r\n"))
        assert wait_until(lambda: b"hello" in raw_upstream.received())
        sock.sendall(b"zz\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert mask_date(data) == CODEC_400
    conns = raw_upstream.connections_with(b"POST /broken-body ")
    assert conns and wait_until(lambda: conns <= raw_upstream.closed)
    assert raw_upstream.requests == []
    assert exchange(live_gateway.port, rq(line=b"GET /after HTTP/1.1"), responses=1).statuses == [200]


@pytest.mark.e2e
def test_trailer_fields_never_reach_the_upstream_head(
    tmp_path: Path, loop_thread: LoopThread, raw_upstream: RawUpstream
) -> None:
    """Trailer fields arrive through the same parser callback as header fields. With the decision taken
    asynchronously (an unknown kid: the key set is refetched first), the whole body and its trailers are
    parsed before the upstream head is written: a trailer must not become an upstream header."""
    pem, jwk = generate_key("ES256")
    jwks = JwksServer(document=ec_jwks("other-kid"))
    loop_thread.run(jwks.start())
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: default}\n"
        f"spec:\n  jwtRules:\n  - issuer: rotating@example.com\n    jwksUri: {jwks.url()}\n"
    )
    gw = GatewayThread(
        ServeOptions(config_paths=(str(policy),), listen="127.0.0.1:0", admin=None, upstream=raw_upstream.url)
    )
    try:
        jwks.document = json.dumps({"keys": [jwk]})  # the new key: known after a refetch
        claims = build_claims("rotating@example.com", "sub", [], {}, 3600, None, int(time.time()))
        token = sign_token(pem, claims, kid=jwk["kid"])
        raw_upstream.clear()
        request = b"POST /trailers HTTP/1.1\r\n" + HOST + b"Authorization: Bearer " + token.encode() + b"\r\n"
        request += CHUNKED + b"\r\n\r\n5\r\nhello\r\n0\r\nX-Evil: 1\r\nX-Jwt-Payload: forged\r\n\r\n"
        out = exchange(gw.port, request, responses=1)
        assert out.statuses == [200], out
        assert raw_upstream.requests == [("/trailers", 5)]
        received = raw_upstream.received().lower()
        assert b"x-evil" not in received and b"forged" not in received
    finally:
        gw.stop()
        loop_thread.run(jwks.stop())


@pytest.mark.e2e
def test_envoy_1_40_answers(envoy_port: int, raw_upstream: RawUpstream) -> None:
    """Re-asks a real Envoy the whole table: the `envoy` columns above are observations, kept honest."""
    observed: dict[str, Any] = {}
    for attack in ATTACKS:
        observed[attack.id] = exchange(envoy_port, attack.request, responses=1, wait=3).statuses[:1]
    for name, data, _, envoy in PIPELINED:
        observed[name] = exchange(envoy_port, data, responses=len(envoy), wait=3).statuses
    expected = {a.id: [a.envoy] for a in ATTACKS} | {p[0]: p[3] for p in PIPELINED}
    assert observed == expected
