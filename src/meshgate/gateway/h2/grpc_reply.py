"""Envoy's local replies to gRPC requests: HTTP 200 with the HTTP status mapped to `grpc-status`.

Sources (observed on Envoy 1.40, tests/parity/test_grpc_envoy_facts.py):
envoyproxy/envoy:source/common/grpc/common.cc hasGrpcContentType (content-type exactly `application/grpc` or
`application/grpc+…`, case-sensitive); source/common/grpc/status.cc httpToGrpcStatus (the table below);
source/common/http/utility.cc prepareLocalReply (trailers-only: the filter's headers, `content-type:
application/grpc`, `grpc-status`, `grpc-message` = PercentEncoding::encode(body), omitted for an empty body
and for HEAD) — then `date`, `server` from the connection manager.
"""

from __future__ import annotations

from collections.abc import Mapping

from meshgate.gateway.deadlines import OneTimer
from meshgate.gateway.local_reply import local_reply

GRPC_CONTENT_TYPE = "application/grpc"
_GRPC_PLUS = GRPC_CONTENT_TYPE + "+"
# httpToGrpcStatus: 400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED,
# 429/502/503/504 UNAVAILABLE, anything else UNKNOWN.
HTTP_TO_GRPC_STATUS = {400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14}
GRPC_UNKNOWN = 2


def grpc_request(headers: Mapping[str, tuple[str, ...]]) -> bool:
    """hasGrpcContentType on the request's first content-type value."""
    values = headers.get("content-type")
    if not values:
        return False
    ctype = values[0]
    return ctype == GRPC_CONTENT_TYPE or ctype.startswith(_GRPC_PLUS)


def grpc_status(http_status: int) -> int:
    return HTTP_TO_GRPC_STATUS.get(http_status, GRPC_UNKNOWN)


def percent_encode(text: str) -> str:
    """PercentEncoding::encode: bytes < 0x20, >= 0x7E and `%` as `%XX` (upper-case hex), the rest as is."""
    data = text.encode()
    if all(0x20 <= b < 0x7E and b != 0x25 for b in data):
        return text
    return "".join(chr(b) if 0x20 <= b < 0x7E and b != 0x25 else f"%{b:02X}" for b in data)


def grpc_reply_headers(
    status: int, body: str, headers: tuple[tuple[str, str], ...], *, head: bool
) -> list[tuple[str, str]]:
    """The reply's headers after `:status 200` and before `date` / `server`, in Envoy's order."""
    out = [*headers, ("content-type", GRPC_CONTENT_TYPE), ("grpc-status", str(grpc_status(status)))]
    if body and not head:
        out.append(("grpc-message", percent_encode(body)))
    return out


def http1_grpc_reply(
    status: int,
    body: str,
    headers: tuple[tuple[str, str], ...],
    *,
    head: bool,
    close: bool,
    date_line: bytes,
) -> bytes:
    """Over HTTP/1.1: `200 OK`, the gRPC headers, `date`, `server`, [`connection: close`], `content-length: 0`."""
    fields = tuple(grpc_reply_headers(status, body, headers, head=head))
    return local_reply(200, "", fields, head=head, close=close, date=date_line)


# source/common/grpc/common.cc getGrpcTimeout: 1-8 digits and a unit (Hours, Minutes, Seconds, milli, micro,
# nano); anything else is ignored.
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def grpc_deadline(headers: Mapping[str, tuple[str, ...]]) -> OneTimer | None:
    """The route timeout of a gRPC request carrying `grpc-timeout`: Istio sets max_grpc_timeout to the
    route timeout, 0s by default, which makes Envoy use the client's value uncapped (route/route.go
    setTimeout; observed: 504 → grpc-status 14 `upstream request timeout`)."""
    values = headers.get("grpc-timeout")
    if not values or not grpc_request(headers):
        return None
    value = values[0]
    unit = _TIMEOUT_UNITS.get(value[-1:])
    digits = value[:-1]
    if unit is None or not digits.isdigit() or len(digits) > 8:
        return None
    return OneTimer(int(digits) * unit)
