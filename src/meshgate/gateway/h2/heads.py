"""Header lists for HTTP/2: a request as the engine and an HTTP/1.1 upstream see it, the request sent to an
HTTP/2 upstream, and the response HEADERS / trailers sent to an HTTP/2 client.

The rules are gateway/heads.py's (Envoy 1.40, observed): hop-by-hop names dropped (`te: trailers` kept),
`x-forwarded-for` appended, `x-forwarded-proto` overwritten, `x-request-id` kept or made; downstream, `server`
overwritten in place, the upstream's `date` kept, then `x-envoy-upstream-service-time`, `date`, `server`. Over
HTTP/2 names are lower-case and there is no `connection` or `transfer-encoding`
(envoyproxy/envoy:source/common/http/http2/codec_impl.cc; RFC 9113 §8.2.2). `:authority` stands for Host
(RFC 9113 §8.3.1), as Envoy's codec does when it speaks HTTP/1.1 upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from h2.exceptions import ProtocolError

from meshgate.engine.status import SERVER_NAME
from meshgate.gateway.heads import (
    EXPECT,
    HOP_BY_HOP,
    NOTHING,
    REQUEST_ID,
    TE_TRAILERS,
    XFF,
    XFP,
    listed_by_connection,
    new_request_id,
)
from meshgate.gateway.request_head import RequestHead

Headers = Sequence[tuple[bytes, bytes]]
HeaderList = list[tuple[bytes, bytes]]
SERVER = SERVER_NAME.encode()
SERVICE_TIME = b"x-envoy-upstream-service-time"
_RESPONSE_DROPPED = HOP_BY_HOP


def split_request(headers: Headers) -> tuple[dict[bytes, bytes], HeaderList]:
    """(pseudo-headers, regular fields) of a received request; `:authority` becomes the first `host`."""
    pseudo: dict[bytes, bytes] = {}
    regular: HeaderList = []
    for name, value in headers:
        if name[:1] == b":":
            pseudo[name] = value
        elif name != b"host" or b":authority" not in pseudo:
            regular.append((name, value))
    authority = pseudo.get(b":authority")
    if authority is not None:
        regular.insert(0, (b"host", authority))
    return pseudo, regular


def request_head(headers: Headers, *, ended: bool) -> RequestHead:
    """A received request as the exchange reads it; a `:path` not starting with `/` ends the connection
    (nghttp2's messaging rule, tests/support/h2_hostile.py)."""
    pseudo, regular = split_request(headers)
    path = pseudo.get(b":path", b"")
    if path[:1] != b"/":
        raise ProtocolError(":path must start with /")
    head = RequestHead(pseudo.get(b":method", b""), path, regular)
    head.has_body = not ended
    head.chunked = not ended and "content-length" not in head.attr_headers
    head.protocol = "HTTP/2"
    return head


def h2_request_head(
    method: bytes,
    target: bytes,
    headers: Headers,
    *,
    peer_ip: bytes,
    scheme: bytes,
    upstream_scheme: bytes = b"http",
    drop: frozenset[bytes] = NOTHING,
    set_headers: Sequence[tuple[str, str]] = (),
    chunked: bool = False,
    upgrade: bytes | None = None,
    listed: frozenset[bytes] | None = None,
    new_id: Callable[[], bytes] = new_request_id,
) -> tuple[HeaderList, bytes, bytes]:
    """(HEADERS for an HTTP/2 upstream, x-forwarded-for sent, x-request-id sent): heads.py's rules."""
    if listed is None:
        listed = listed_by_connection(headers)
    removed = drop | listed if listed else drop
    authority = b""
    out: HeaderList = []
    xff_values: list[bytes] = []
    request_id = b""
    for name, value in headers:
        lname = name.lower()
        if lname == b"host":
            authority = authority or value
        elif lname in HOP_BY_HOP or lname == EXPECT:
            if lname == b"te" and value.strip().lower() == TE_TRAILERS:
                out.append((b"te", TE_TRAILERS))
        elif lname in removed or lname == XFP:
            continue
        elif lname == XFF:
            xff_values.append(value.strip())
        elif lname == REQUEST_ID:
            if not request_id:
                request_id = value
                out.append((lname, value))
        else:
            out.append((lname, value))
    xff = b",".join([*filter(None, xff_values), peer_ip]) if xff_values else peer_ip
    out += [(XFF, xff), (XFP, scheme)]
    if not request_id:
        request_id = new_id()
        out.append((REQUEST_ID, request_id))
    out += [(k.encode(), v.encode()) for k, v in set_headers]
    pseudo = [
        (b":method", method),
        (b":scheme", upstream_scheme),
        (b":authority", authority),
        (b":path", target),
    ]
    return pseudo + out, xff, request_id


def h2_response_head(
    status: int, headers: Headers, *, date: bytes, service_ms: int | None, listed: frozenset[bytes] | None
) -> HeaderList:
    """A relayed (or built-in) response's HEADERS for an HTTP/2 client."""
    if listed is None:
        listed = listed_by_connection(headers)
    out: HeaderList = [(b":status", b"%d" % status)]
    has_server = has_date = False
    for name, value in headers:
        lname = name.lower()
        if lname in _RESPONSE_DROPPED or lname in listed:
            continue
        if lname == b"server":
            if not has_server:
                has_server = True
                out.append((b"server", SERVER))
            continue
        if lname == b"date":
            has_date = True
        out.append((lname, value))
    if service_ms is not None:
        out.append((SERVICE_TIME, b"%d" % service_ms))
    if not has_date:
        out.append((b"date", date))
    if not has_server:
        out.append((b"server", SERVER))
    return out


def h2_trailers(trailers: Headers) -> HeaderList:
    """Trailers relayed as received (lower-case), without connection-specific fields."""
    return [(k.lower(), v) for k, v in trailers if k.lower() not in HOP_BY_HOP and k[:1] != b":"]
