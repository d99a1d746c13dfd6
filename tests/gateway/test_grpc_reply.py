"""gRPC helpers of the gateway (gateway/h2/grpc_reply.py), row by row against Envoy's sources:
envoyproxy/envoy:source/common/grpc/common.cc (hasGrpcContentType, getGrpcTimeout),
source/common/grpc/status.cc (httpToGrpcStatus), source/common/http/utility.cc (PercentEncoding::encode).
The end-to-end answers are tests/gateway/test_h2_grpc.py's."""

from __future__ import annotations

import pytest

from meshgate.gateway.h2.grpc_reply import grpc_deadline, grpc_request, grpc_status, percent_encode


@pytest.mark.parametrize(
    ("content_type", "grpc"),
    [("application/grpc", True), ("application/grpc+proto", True), ("application/grpc+json", True),
     ("application/grpc-web", False), ("application/grpc;charset=utf-8", False), ("APPLICATION/GRPC", False),
     ("text/plain", False)],
)  # fmt: skip
def test_grpc_content_type(content_type: str, grpc: bool) -> None:
    assert grpc_request({"content-type": (content_type,)}) is grpc


@pytest.mark.parametrize(
    ("http", "grpc"),
    [(400, 13), (401, 16), (403, 7), (404, 12), (429, 14), (502, 14), (503, 14), (504, 14), (500, 2), (418, 2)],
)  # fmt: skip
def test_http_to_grpc_status(http: int, grpc: int) -> None:
    assert grpc_status(http) == grpc


@pytest.mark.parametrize(
    ("text", "encoded"),
    [("RBAC: access denied", "RBAC: access denied"),
     ("caf\u00e9 100% ~ done\tx", "caf%C3%A9 100%25 %7E done%09x"),  # observed on Envoy 1.40 (h2_facts.py)
     ("a\nb\x7f", "a%0Ab%7F")],
)  # fmt: skip
def test_percent_encoding(text: str, encoded: str) -> None:
    assert percent_encode(text) == encoded


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("200m", 0.2), ("5S", 5.0), ("1H", 3600.0), ("2M", 120.0), ("1500u", 0.0015), ("99999999n", 0.099999999),
     ("123456789m", None), ("5x", None), ("m", None), ("-5S", None)],
)  # fmt: skip
def test_grpc_timeout(value: str, seconds: float | None) -> None:
    timer = grpc_deadline({"content-type": ("application/grpc",), "grpc-timeout": (value,)})
    assert (None if timer is None else pytest.approx(timer.timeout_s)) == seconds


def test_grpc_timeout_only_for_grpc_requests() -> None:
    assert grpc_deadline({"content-type": ("text/plain",), "grpc-timeout": ("1S",)}) is None
