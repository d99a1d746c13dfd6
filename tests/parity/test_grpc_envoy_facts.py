"""Issue 14, phase 1: what a real Envoy 1.40, configured as istiod configures an ingress gateway with the seed's
policies (RequestAuthentication `frontend` + AuthorizationPolicy `require-jwt`), answers gRPC and plain HTTP/2
clients — pinned byte for byte against the tables of tests/support/h2_facts.py, which phase 2 asserts against
meshgate. The rig (tests/support/h2_ingress.py) is one Envoy, a grpcio server and loopback upstreams.

A mutation of any expected header, status or message in h2_facts.py fails its row; so does an Envoy that
stops answering gRPC requests trailers-only, or stops percent-encoding grpc-message.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import grpc
import pytest
from tests.support import h2_checks
from tests.support.h2_facts import (
    DENIED,
    GRPC_HOST,
    GRPC_LOCAL_REPLIES,
    HEALTH_CHECK,
    NOT_GRPC_CONTENT_TYPES,
    UNKNOWN_ISSUER,
    GrpcRow,
    grpc_reply,
    realm,
)
from tests.support.h2_ingress import IngressRig


@pytest.fixture(scope="module")
def rig() -> Iterator[IngressRig]:
    r = IngressRig().start()
    yield r
    r.stop()


def _ca(rig: IngressRig, listener: str) -> str | None:
    return rig.ca.ca_file if listener == "tls" else None


@pytest.mark.parametrize("row", GRPC_LOCAL_REPLIES, ids=lambda r: r.name)
def test_grpc_local_reply_over_h2c(rig: IngressRig, row: GrpcRow) -> None:
    h2_checks.grpc_local_reply(rig.port("plain"), row, row.headers)


@pytest.mark.parametrize(
    ("token", "expected"),
    [("none", grpc_reply(7, DENIED)),
     ("other", grpc_reply(16, UNKNOWN_ISSUER, [realm("https", GRPC_HOST, HEALTH_CHECK)]))],
)  # fmt: skip
def test_grpc_local_reply_over_tls_h2(rig: IngressRig, token: str, expected: list[tuple[str, str]]) -> None:
    h2_checks.grpc_local_reply_over_tls(rig.port("tls"), rig.ca.ca_file, token, expected)


@pytest.mark.parametrize("content_type", NOT_GRPC_CONTENT_TYPES)
def test_not_grpc_content_types_get_the_plain_reply(rig: IngressRig, content_type: str) -> None:
    h2_checks.not_grpc_gets_the_plain_reply(rig.port("plain"), content_type)


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_allowed_unary_call_is_relayed_with_its_trailers(rig: IngressRig, listener: str) -> None:
    h2_checks.allowed_unary_call_relayed_with_trailers(rig.port(listener), _ca(rig, listener))


def test_upstream_grpc_error_is_relayed_untouched(rig: IngressRig) -> None:
    h2_checks.upstream_grpc_error_relayed_untouched(rig.port("plain"))


@pytest.mark.parametrize("listener", ["plain", "tls"])
@pytest.mark.parametrize(
    ("token", "code", "details", "challenge"),
    [("none", grpc.StatusCode.PERMISSION_DENIED, DENIED, False),
     ("other", grpc.StatusCode.UNAUTHENTICATED, UNKNOWN_ISSUER, True),
     ("demo", grpc.StatusCode.OK, "", False)],
)  # fmt: skip
def test_grpcio_client_unary(
    rig: IngressRig, listener: str, token: str, code: grpc.StatusCode, details: str, challenge: bool
) -> None:
    h2_checks.grpcio_unary(rig.port(listener), _ca(rig, listener), token, code, details, challenge)


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_grpcio_server_streaming(rig: IngressRig, listener: str) -> None:
    h2_checks.grpcio_server_streaming(rig.port(listener), _ca(rig, listener), rig.grpc, f"watched-{listener}")


def test_upstream_never_sees_the_token(rig: IngressRig) -> None:
    h2_checks.upstream_never_sees_the_token(rig.port("plain"))


# --- plain HTTP/2 with curl: the seed's three answers ------------------------------------------------------
@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
@pytest.mark.parametrize("mode", ["--http2-prior-knowledge", "--http2 over TLS"])
@pytest.mark.parametrize("token", ["none", "other", "demo"])
def test_seed_answers_over_http2_with_curl(rig: IngressRig, mode: str, token: str) -> None:
    tls = rig.port("tls") if mode == "--http2 over TLS" else None
    h2_checks.seed_answer_over_http2_with_curl(rig.port("plain"), tls, rig.ca.ca_file, token)


def test_curl_http2_on_plain_http_stays_http1(rig: IngressRig) -> None:
    h2_checks.curl_http2_on_plain_http_stays_http1(rig.port("plain"))


def test_h2c_upgrade_is_stripped_not_honoured(rig: IngressRig) -> None:
    h2_checks.h2c_upgrade_stripped_not_honoured(rig.port("plain"), rig.web)


def test_http1_grpc_request_gets_the_grpc_local_reply(rig: IngressRig) -> None:
    h2_checks.http1_grpc_request_gets_the_grpc_local_reply(rig.port("plain"))
