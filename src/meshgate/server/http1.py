"""Reading an HTTP/1.1 request head, the same way on every port: the gateway's and the ext_authz HTTP one.

llhttp (httptools) parses strictly and refuses malformed lines, Content-Length, TE+CL, obs-fold, bare CR/LF,
NUL and bad names (400, Envoy's `Bad Request`). `HeadReader` keeps the request line and the header lines,
trailing whitespace dropped as Envoy's codec drops it, and counts them against Envoy's limits: more than
60 KiB of head or more than 100 headers is a 431. A port checks the limits itself — when a head is complete
(`head_too_large`) and after each read (`head_bytes_exceeded`, for a head still arriving) — so nothing is
raised inside a parser callback. `transfer_coding_refusal` and `host_refusal` are the checks of Envoy's
HTTP/1 codec that every port makes (observed on Envoy 1.40; docs/security.md "HTTP and transport").
"""

from __future__ import annotations

from collections.abc import Sequence

# envoyproxy/envoy:source/common/http/http1/codec_impl.cc; bodies and statuses observed on Envoy 1.40.
BAD_REQUEST_BODY = "Bad Request"  # llhttp parse error → 400, connection closed
HEADERS_TOO_LARGE_BODY = "Request Header Fields Too Large"  # beyond either limit below → 431
NOT_IMPLEMENTED_BODY = "Not Implemented"  # a transfer coding other than `chunked` → 501, closed
MAX_REQUEST_HEADERS_BYTES = 60 * 1024  # HttpConnectionManager max_request_headers_kb default
MAX_REQUEST_HEADERS_COUNT = 100  # HttpProtocolOptions max_headers_count default (observed: 101 → 431)
_OWS = (0x20, 0x09)  # RFC 9110 §5.6.3 optional whitespace: SP, HTAB

Refusal = tuple[int, str]  # (status, body)


class HeadReader:
    """httptools callbacks for a message's start, request line and header lines, mixed into a port's Protocol.

    `in_message` is true from a message's start until the port's `on_message_complete` clears it. Trailer
    fields arrive through `on_header` too: a port that keeps the head's lines swaps `headers` for a new list
    when the head is complete.
    """

    in_message: bool
    url: bytes
    headers: list[tuple[bytes, bytes]]
    head_bytes: int

    def start_head(self) -> None:
        """The state before any message (a port's constructor calls it)."""
        self.in_message = False
        self.url = b""
        self.headers = []
        self.head_bytes = 0

    def on_message_begin(self) -> None:
        self.in_message = True
        self.url = b""
        self.headers = []
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if value and value[-1] in _OWS:  # llhttp keeps trailing whitespace; Envoy's codec drops it
            value = value.rstrip(b" \t")
        self.headers.append((name, value))
        self.head_bytes += len(name) + len(value)

    def head_bytes_exceeded(self) -> bool:
        return self.head_bytes > MAX_REQUEST_HEADERS_BYTES

    def head_too_large(self) -> bool:
        """Envoy's 431: a complete head beyond either limit."""
        return self.head_bytes > MAX_REQUEST_HEADERS_BYTES or len(self.headers) > MAX_REQUEST_HEADERS_COUNT


def transfer_coding_refusal(te: Sequence[str] | None) -> Refusal | None:
    """Envoy accepts only a lone `chunked` transfer coding (RFC 9112 §6.1); anything else is a 501."""
    if te is not None and (len(te) != 1 or te[0].strip().lower() != "chunked"):
        return 501, NOT_IMPLEMENTED_BODY
    return None


def host_refusal(host: Sequence[str] | None) -> Refusal | None:
    """No Host (or an empty one): Envoy's empty 400 (missing_host_header). A repeated Host: meshgate's
    400 (RFC 9112 §3.2; Envoy would join the values with `,` and route on that)."""
    if not host or not host[0]:
        return 400, ""
    if len(host) > 1:
        return 400, ""
    return None
