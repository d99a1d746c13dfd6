"""What Envoy 1.40, configured as istiod configures an ingress gateway (tests/support/h2_ingress.py), answers
over HTTP/2 — as data, so the same rows can be asserted against Envoy (tests/parity/test_grpc_envoy_facts.py,
test_h2_envoy_limits.py) and, in phase 2 of issue 14, against meshgate.

A header list is the exact HEADERS block in wire order; `DATE` matches an IMF-fixdate and `NUMBER` any
decimal (x-envoy-upstream-service-time). Sources, beside each table:
- envoyproxy/envoy:source/common/http/utility.cc prepareLocalReply / encodeLocalReply: a gRPC request
  (content-type `application/grpc` or `application/grpc+…`: source/common/grpc/common.cc hasGrpcContentType)
  gets `:status 200`, `content-type: application/grpc`, `grpc-status` (httpToGrpcStatus of the HTTP status,
  source/common/grpc/status.cc: 400→13 INTERNAL, 401→16, 403→7, 404→12 UNIMPLEMENTED, 429/502/503/504→14
  UNAVAILABLE, else 2 UNKNOWN), `grpc-message` = PercentEncoding::encode(body) (not for HEAD, not when the
  body is empty), no content-length, END_STREAM on the HEADERS frame (trailers-only); then the connection
  manager appends `date` and `server` (source/common/http/conn_manager_impl.cc).
- PercentEncoding::encode (source/common/http/utility.cc): bytes < 0x20, >= 0x7E (so `~` and every
  non-ASCII byte) and `%` become `%XX`, upper-case hex.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tests.support.jws_craft import json_text, sign_claims_text
from tests.support.samples import SAMPLES

DATE = "<date>"
NUMBER = "<number>"
DEMO_JWT = (SAMPLES / "demo.jwt").read_text().strip()  # Istio's demo.jwt: testing@secure.istio.io
OTHER_ISSUER = sign_claims_text(json_text({"iss": "other@example.com", "sub": "x", "exp": 4685989700}))
TOKENS = {"none": None, "demo": DEMO_JWT, "other": OTHER_ISSUER}
_DATE_RE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z][a-z] \d{4} \d\d:\d\d:\d\d GMT")
Headers = Sequence[tuple[str, str]]


def matches(actual: Headers, expected: Headers) -> bool:
    """Same names and values in the same order; DATE and NUMBER match any date / decimal."""
    if [k for k, _ in actual] != [k for k, _ in expected]:
        return False
    for (_, got), (_, want) in zip(actual, expected, strict=True):
        ok = {DATE: bool(_DATE_RE.fullmatch(got)), NUMBER: got.isdigit()}.get(want, got == want)
        if not ok:
            return False
    return True


def realm(scheme: str, authority: str, path: str) -> tuple[str, str]:
    """jwt_authn's 401 challenge: the connection's scheme and the authority as sent."""
    return ("www-authenticate", f'Bearer realm="{scheme}://{authority}{path}", error="invalid_token"')


def grpc_reply(status: int, message: str | None, first: Headers = ()) -> list[tuple[str, str]]:
    """An Envoy gRPC local reply (trailers-only HEADERS)."""
    out = [(":status", "200"), *first, ("content-type", "application/grpc"), ("grpc-status", str(status))]
    if message is not None:
        out.append(("grpc-message", message))
    return [*out, ("date", DATE), ("server", "istio-envoy")]


def plain_reply(status: int, body: str, first: Headers = ()) -> list[tuple[str, str]]:
    """An Envoy local reply to a non-gRPC HTTP/2 request: HEADERS, then one DATA frame with END_STREAM."""
    out = [(":status", str(status)), *first]
    if body:
        out += [("content-length", str(len(body.encode()))), ("content-type", "text/plain")]
    return [*out, ("date", DATE), ("server", "istio-envoy")]


# --- hosts of the ingress (h2_ingress.py) ----------------------------------------------------------
GRPC_HOST = "grpc.example.com"  # → the grpcio server (GRPC ServiceEntry port: HTTP/2 upstream)
DOWN_HOST = "down.example.com"  # → a grpcio server that was stopped (connection refused)
SLOW_HOST = "slow.example.com"  # → a silent upstream, VirtualService timeout 0.3 s
SILENT_HOST = "silent.example.com"  # → the silent upstream, no route timeout (Istio's default)
WEB_HOST = "web.example.com"  # → an HTTP/1.1 recording upstream (answers 200 JSON)
DIRECT_HOST = "direct.example.com"  # VirtualService directResponse 418 with DIRECT_BODY
UNKNOWN_HOST = "nowhere.example.com"  # no virtual host: 404
DIRECT_BODY = "caf\u00e9 100% ~ done\tx"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
UPSTREAM_DOWN = (
    "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
    "remote connection failure"
)
DENIED = "RBAC: access denied"
UNKNOWN_ISSUER = "Jwt issuer is not configured"


@dataclass(frozen=True)
class GrpcRow:
    """A gRPC request (POST, `content-type`, `te: trailers`, an empty Health/Check message unless `method`
    says HEAD/GET) and the exact HEADERS Envoy answers with, trailers-only."""

    name: str
    token: str  # key of TOKENS
    headers: list[tuple[str, str]]
    authority: str = GRPC_HOST
    path: str = HEALTH_CHECK
    method: str = "POST"
    content_type: str = "application/grpc"
    extra: tuple[tuple[str, str], ...] = ()


GRPC_LOCAL_REPLIES = [
    GrpcRow("no token: RBAC 403 → 7 PERMISSION_DENIED", "none", grpc_reply(7, DENIED)),
    GrpcRow("another issuer: jwt_authn 401 → 16 UNAUTHENTICATED, www-authenticate first", "other",
            grpc_reply(16, UNKNOWN_ISSUER, [realm("http", GRPC_HOST, HEALTH_CHECK)])),
    GrpcRow("application/grpc+proto is gRPC; the reply says application/grpc", "none", grpc_reply(7, DENIED),
            content_type="application/grpc+proto"),
    GrpcRow("GET with a gRPC content-type is answered as gRPC", "none", grpc_reply(7, DENIED), method="GET"),
    GrpcRow("HEAD: grpc-status without grpc-message", "none", grpc_reply(7, None), method="HEAD"),
    GrpcRow("no virtual host: 404 → 12 UNIMPLEMENTED, empty body so no grpc-message", "demo",
            grpc_reply(12, None), authority=UNKNOWN_HOST),
    GrpcRow("path normalization failure (%00): 400 → 13 INTERNAL, no grpc-message", "demo", grpc_reply(13, None),
            path="/a/%00"),
    GrpcRow("upstream refused (after Istio's 2 retries): 503 → 14 UNAVAILABLE", "demo",
            grpc_reply(14, UPSTREAM_DOWN), authority=DOWN_HOST),
    GrpcRow("route timeout (VirtualService 0.3 s): 504 → 14 UNAVAILABLE, not 4 DEADLINE_EXCEEDED", "demo",
            grpc_reply(14, "upstream request timeout"), authority=SLOW_HOST),
    GrpcRow("client grpc-timeout 200m (max_grpc_timeout 0s honours it): 504 → 14", "demo",
            grpc_reply(14, "upstream request timeout"), authority=SILENT_HOST, extra=(("grpc-timeout", "200m"),)),
    GrpcRow("directResponse 418 → 2 UNKNOWN; body percent-encoded (é, %, ~, TAB)", "demo",
            grpc_reply(2, "caf%C3%A9 100%25 %7E done%09x"), authority=DIRECT_HOST),
]  # fmt: skip

# Not gRPC for Envoy (hasGrpcContentType is exact and case-sensitive): the plain-text local reply.
NOT_GRPC_CONTENT_TYPES = ["application/grpc-web", "application/grpc;charset=utf-8", "APPLICATION/GRPC"]

# A gRPC error from the upstream is relayed as it came: trailers-only stays trailers-only and grpc-message
# keeps the server's own percent-encoding (Envoy adds x-envoy-upstream-service-time, date, server).
UPSTREAM_FAIL_REQUEST = "9:bad thing caf\u00e9 100%"
UPSTREAM_FAIL_HEADERS = [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "9"),
                         ("grpc-message", "bad thing caf%C3%A9 100%25"), ("x-envoy-upstream-service-time", NUMBER),
                         ("date", DATE), ("server", "istio-envoy")]  # fmt: skip
# A successful unary call through Envoy to grpcio: HEADERS (grpcio's, then Envoy's), DATA, trailers.
UPSTREAM_OK_HEADERS = [
    (":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", "identity, deflate, gzip"),
    ("x-envoy-upstream-service-time", NUMBER), ("date", DATE), ("server", "istio-envoy"),
]  # fmt: skip
UPSTREAM_OK_TRAILERS = [("grpc-status", "0"), ("grpc-message", "")]

# --- plain HTTP/2 (curl): the seed's three answers ---------------------------------------------------------
PLAIN_PATH = "/productpage"
SEED_OVER_H2 = {  # token → (status, headers after :status, body); 200 comes from the recording upstream
    "none": (403, plain_reply(403, DENIED)[1:], DENIED),
    "other": (401, plain_reply(401, UNKNOWN_ISSUER, [realm("http", WEB_HOST, PLAIN_PATH)])[1:], UNKNOWN_ISSUER),
    "demo": (200, [("content-type", "application/json"), ("content-length", "44"),
                   ("x-envoy-upstream-service-time", NUMBER), ("date", DATE), ("server", "istio-envoy")],
             '{"upstream": true, "target": "/productpage"}'),
}  # fmt: skip
