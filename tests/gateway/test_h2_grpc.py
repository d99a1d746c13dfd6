"""Issue 14, phase 2: meshgate answers gRPC and plain HTTP/2 clients as Envoy 1.40 does — the phase-1 tables
(tests/support/h2_facts.py, pinned against a real Envoy by tests/parity/test_grpc_envoy_facts.py) asserted
against `meshgate serve` gateways in front of the same real upstreams (tests/support/h2_meshgate.py).

Rows that need host routing (no virtual host, directResponse) run through meshgate as the ingress in
tests/ingress/test_grpc_routed_facts.py; meshgate does not retry, so its connect-failure text lacks Envoy's
"retried and the latest" (the one row with its own expectation, docs/istio-semantics.md). A mutation of the
gRPC status table, of the header order, of the percent-encoding or of trailers relaying fails a row.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import grpc
import pytest
from tests.support import h2_checks
from tests.support.grpc_servers import (
    bearer,
    channel,
    grpc_frame,
    health_request,
)
from tests.support.h2_facts import (
    DENIED,
    GRPC_HOST,
    GRPC_LOCAL_REPLIES,
    HEALTH_CHECK,
    NOT_GRPC_CONTENT_TYPES,
    TOKENS,
    UNKNOWN_ISSUER,
    GrpcRow,
    grpc_reply,
    realm,
)
from tests.support.h2_meshgate import MeshgateRig

from meshgate.gateway.local_reply import UPSTREAM_CONNECT_FAILURE

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


def _ca(rig: MeshgateRig, listener: str) -> str | None:
    return rig.ca.ca_file if listener == "tls" else None


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_grpc_local_reply_over_h2c(rig: MeshgateRig, row: GrpcRow) -> None:
    expected = NO_RETRY.get(row.name, row.headers)
    h2_checks.grpc_local_reply(rig.port(LISTENER_OF.get(row.name, "plain")), row, expected)


@pytest.mark.parametrize(
    ("token", "expected"),
    [("none", grpc_reply(7, DENIED)),
     ("other", grpc_reply(16, UNKNOWN_ISSUER, [realm("https", GRPC_HOST, HEALTH_CHECK)]))],
)  # fmt: skip
def test_grpc_local_reply_over_tls_h2(rig: MeshgateRig, token: str, expected: list[tuple[str, str]]) -> None:
    h2_checks.grpc_local_reply_over_tls(rig.port("tls"), rig.ca.ca_file, token, expected)


@pytest.mark.parametrize("content_type", NOT_GRPC_CONTENT_TYPES)
def test_not_grpc_content_types_get_the_plain_reply(rig: MeshgateRig, content_type: str) -> None:
    h2_checks.not_grpc_gets_the_plain_reply(rig.port("plain"), content_type)


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_allowed_unary_call_is_relayed_with_its_trailers(rig: MeshgateRig, listener: str) -> None:
    h2_checks.allowed_unary_call_relayed_with_trailers(rig.port(listener), _ca(rig, listener))


def test_upstream_grpc_error_is_relayed_untouched(rig: MeshgateRig) -> None:
    h2_checks.upstream_grpc_error_relayed_untouched(rig.port("plain"))


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
    h2_checks.grpcio_unary(rig.port(listener), _ca(rig, listener), token, code, details, challenge)


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_grpcio_server_streaming(rig: MeshgateRig, listener: str) -> None:
    h2_checks.grpcio_server_streaming(rig.port(listener), _ca(rig, listener), rig.grpc, f"watched-{listener}")


def test_upstream_never_sees_the_token(rig: MeshgateRig) -> None:
    h2_checks.upstream_never_sees_the_token(rig.port("plain"))


def test_many_concurrent_streams_on_one_connection(rig: MeshgateRig) -> None:
    """Each stream is decided on its own: 20 calls, alternately with and without a token, one channel."""
    with channel(rig.port("plain"), authority=GRPC_HOST) as ch:
        rpc = ch.unary_unary(HEALTH_CHECK, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        futures = [rpc.future(health_request(), metadata=bearer(TOKENS["demo" if i % 2 else "none"]))
                   for i in range(20)]  # fmt: skip
        codes = [f.code() if f.exception() else grpc.StatusCode.OK for f in futures]
    assert codes == [grpc.StatusCode.OK if i % 2 else grpc.StatusCode.PERMISSION_DENIED for i in range(20)]


# --- plain HTTP/2 with curl: the seed's three answers ---------------------------------------------------
@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
@pytest.mark.parametrize("mode", ["--http2-prior-knowledge", "--http2 over TLS"])
@pytest.mark.parametrize("token", ["none", "other", "demo"])
def test_seed_answers_over_http2_with_curl(rig: MeshgateRig, mode: str, token: str) -> None:
    tls = rig.port("web-tls") if mode == "--http2 over TLS" else None
    h2_checks.seed_answer_over_http2_with_curl(rig.port("web"), tls, rig.ca.ca_file, token)


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
def test_curl_http2_on_plain_http_stays_http1(rig: MeshgateRig) -> None:
    h2_checks.curl_http2_on_plain_http_stays_http1(rig.port("web"))


def test_h2c_upgrade_is_stripped_not_honoured(rig: MeshgateRig) -> None:
    h2_checks.h2c_upgrade_stripped_not_honoured(rig.port("web"), rig.web)


def test_http1_grpc_request_gets_the_grpc_local_reply(rig: MeshgateRig) -> None:
    h2_checks.http1_grpc_request_gets_the_grpc_local_reply(rig.port("plain"))


def test_http1_client_on_h2_upstream_gets_chunks_and_no_trailers(rig: MeshgateRig) -> None:
    """An allowed non-gRPC-framed HTTP/1.1 request relayed to the h2 upstream: the answer is chunked and its
    trailers are dropped (Envoy's HTTP/1 codec without enable_trailers, docs/http2-notes.md §3)."""
    body = grpc_frame(health_request())
    request = (f"POST {HEALTH_CHECK} HTTP/1.1\r\nHost: {GRPC_HOST}\r\nContent-Type: application/grpc\r\n"
               f"Authorization: Bearer {TOKENS['demo']}\r\nTE: trailers\r\nContent-Length: {len(body)}\r\n"
               "\r\n").encode() + body  # fmt: skip
    answer = h2_checks.raw_http1(rig.port("plain"), request)
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"transfer-encoding: chunked" in head
    assert rest.endswith(b"0\r\n\r\n") and b"grpc-status" not in rest
