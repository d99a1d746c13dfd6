"""Header blocks the proxy writes: the request head sent upstream and the response head sent downstream.

Both follow what a real Envoy 1.40 gateway (`use_remote_address: true`) puts on the wire (observed):
names lower-cased; hop-by-hop headers dropped (RFC 9110 §7.6.1: `Connection` and the names it lists,
Keep-Alive, Proxy-Connection, TE except `te: trailers`, Trailer, Transfer-Encoding, Upgrade);
`x-forwarded-for` gets the peer appended with `,` (envoyproxy/envoy:source/common/http/utility.cc
appendXff); `x-forwarded-proto` is overwritten with the downstream scheme (conn_manager_utility.cc);
`x-request-id` is kept or generated (uuid4). Downstream, `server` is overwritten in place with
`istio-envoy`, the upstream `date` is kept, `x-envoy-upstream-service-time` is added, then `date`,
`server`, `connection: close`, `transfer-encoding: chunked` as needed — in that order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from random import getrandbits

from meshgate.gateway.local_reply import CONNECTION_CLOSE, SERVER_HEADER, status_line

Headers = Sequence[tuple[bytes, bytes]]

# RFC 9110 §7.6.1 connection-specific fields (+ Proxy-Connection, as Envoy strips it too).
HOP_BY_HOP: frozenset[bytes] = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
XFF = b"x-forwarded-for"
XFP = b"x-forwarded-proto"
REQUEST_ID = b"x-request-id"
EXPECT = b"expect"
TE_TRAILERS = b"trailers"  # Envoy forwards `te: trailers` (observed), drops any other TE value
SERVICE_TIME = b"x-envoy-upstream-service-time"
UPSTREAM_SERVICE_TIME = SERVICE_TIME + b": "
CHUNKED_HEADER = b"transfer-encoding: chunked\r\n"
EMPTY_LENGTH_HEADER = b"content-length: 0\r\n"
WEBSOCKET = b"websocket"  # the one upgrade type Istio configures (HCM upgrade_configs)


def removal_names(remove: Iterable[str], set_headers: Sequence[tuple[str, str]]) -> frozenset[bytes]:
    """The header names an UpstreamEdits takes off the request, as `upstream_request_head`'s `drop`."""
    names = [*remove, *(name for name, _ in set_headers)]
    return frozenset(name.encode("latin-1") for name in names) if names else NOTHING


def connection_tokens(value: bytes) -> set[bytes]:
    """Lower-cased names listed in a `Connection` header value (`keep-alive, Foo` → {keep-alive, foo})."""
    return {token.strip().lower() for token in value.split(b",") if token.strip()}


def new_request_id() -> bytes:
    """A random (version 4) UUID, as Envoy's x-request-id; not a secret, so no CSPRNG call per request."""
    n = getrandbits(122)  # the version (4) and variant (10) bits are written by the format
    return b"%08x-%04x-4%03x-%x%03x-%012x" % (
        n >> 90, (n >> 74) & 0xFFFF, (n >> 62) & 0xFFF, 8 | ((n >> 60) & 3), (n >> 48) & 0xFFF, n & 0xFFFFFFFFFFFF
    )  # fmt: skip


def listed_by_connection(headers: Headers) -> frozenset[bytes]:
    """Names a `Connection` header lists as hop-by-hop, beyond the ones always dropped."""
    listed: set[bytes] = set()
    for name, value in headers:
        if len(name) == 10 and name.lower() == b"connection":
            listed |= connection_tokens(value)
    return frozenset(listed - HOP_BY_HOP - _CONNECTION_OPTIONS) if listed else NOTHING


# Never dropped for being listed: `close` is an option, not a name; and framing is the proxy's own business
# (dropping a listed content-length while the body is still forwarded lets the peer read the body as the
# next request or response: request smuggling / response desync).
_CONNECTION_OPTIONS = frozenset({b"close", b"content-length"})
NOTHING: frozenset[bytes] = frozenset()
# envoyproxy/envoy:source/common/http/utility.cc sanitizeConnectionHeader: listing one of these, a
# pseudo-header, or 10 or more tokens fails the request (codec 400 `Bad Request`, observed on Envoy 1.40).
NOMINATION_REFUSED = frozenset({b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto"})
MAX_CONNECTION_TOKENS = 10


# What the upstream head does with a received header, by lower-cased name (anything else is copied).
_DROP, _XFF, _XFP, _REQUEST_ID, _TE = 1, 2, 3, 4, 5
_UPSTREAM_ACTIONS: dict[bytes, int] = {
    **dict.fromkeys(HOP_BY_HOP, _DROP),
    EXPECT: _DROP,  # Envoy answers `100 Continue` itself and does not forward Expect
    b"te": _TE,
    XFF: _XFF,
    XFP: _XFP,
    REQUEST_ID: _REQUEST_ID,
}


def upstream_request_head(
    method: bytes,
    target: bytes,
    headers: Headers,
    *,
    peer_ip: bytes,
    scheme: bytes,
    drop: frozenset[bytes] = NOTHING,
    set_headers: Sequence[tuple[str, str]] = (),
    chunked: bool = False,
    upgrade: bytes | None = None,
    listed: frozenset[bytes] | None = None,
    new_id: Callable[[], bytes] = new_request_id,
) -> tuple[bytes, bytes, bytes]:
    """(head bytes, x-forwarded-for sent, x-request-id sent) for one proxied request.

    `drop` (lower-case names: `removal_names` of the engine's UpstreamEdits — token header, spoofed
    output headers, the names it sets) is removed; `set_headers` are then appended. `upgrade` keeps the
    upgrade pair. `new_id` makes the x-request-id when the client sent none.
    """
    if listed is None:
        listed = listed_by_connection(headers)
    removed = drop | listed if listed else drop
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    xff_at = -1
    xff_values: list[bytes] = []
    request_id = b""
    has_xfp = False
    actions = _UPSTREAM_ACTIONS
    for name, value in headers:
        lname = name.lower()
        action = actions.get(lname)
        if action is None:
            if lname not in removed:
                parts += (lname, b": ", value, b"\r\n")
        elif action == _DROP:
            continue
        elif action == _TE:
            if value.strip().lower() == TE_TRAILERS:
                parts.append(b"te: trailers\r\n")
        elif lname in removed:
            continue
        elif action == _XFF:
            if xff_at < 0:
                xff_at = len(parts)
                parts.append(b"")
            xff_values.append(value.strip())
        elif action == _XFP:
            if not has_xfp:
                has_xfp = True
                parts.append(b"x-forwarded-proto: " + scheme + b"\r\n")
        elif not request_id:  # _REQUEST_ID: the first one is kept
            request_id = value
            parts += (lname, b": ", value, b"\r\n")
    xff = b",".join([*filter(None, xff_values), peer_ip]) if xff_values else peer_ip
    xff_line = b"x-forwarded-for: " + xff + b"\r\n"
    if xff_at >= 0:
        parts[xff_at] = xff_line
    else:
        parts.append(xff_line)
    if not has_xfp:
        parts.append(b"x-forwarded-proto: " + scheme + b"\r\n")
    if not request_id:
        request_id = new_id()
        parts.append(b"x-request-id: " + request_id + b"\r\n")
    for set_name, set_value in set_headers:
        parts.append(f"{set_name}: {set_value}\r\n".encode())  # claims are UTF-8 JSON text: Envoy sends UTF-8
    if upgrade is not None:
        parts += (b"connection: upgrade\r\nupgrade: ", upgrade, b"\r\n")
    if chunked:
        parts.append(CHUNKED_HEADER)
    parts.append(b"\r\n")
    return b"".join(parts), xff, request_id


# What the downstream head does with an upstream header, by lower-cased name (anything else is copied).
_HOP, _CONNECTION, _SERVER, _DATE = 1, 2, 3, 4
_DOWNSTREAM_ACTIONS: dict[bytes, int] = {
    **dict.fromkeys(HOP_BY_HOP, _HOP),
    b"connection": _CONNECTION,
    b"server": _SERVER,
    b"date": _DATE,
}
PLAIN_CONNECTION = frozenset({b"keep-alive", b"close"})  # options only: nothing else is listed


def downstream_response_head(
    status: int,
    headers: Headers,
    *,
    date_line: bytes,
    service_time_ms: int | None = None,
    chunked: bool = False,
    close: bool = False,
    upgrade: bool = False,
    listed: frozenset[bytes] | None = None,
    headers_only: bool = False,
) -> bytes:
    """The response head Envoy writes for a proxied response (see the module docstring for the order).

    `headers_only`: the response ends with its head (not for a HEAD request); Envoy's HTTP/1 codec then adds
    `content-length: 0` when the status allows a body and none is declared
    (envoyproxy/envoy:source/common/http/http1/codec_impl.cc encodeHeadersBase).

    `listed` (names the upstream's Connection header lists) is derived here when not given; a Connection
    header holding only `keep-alive` or `close` lists nothing, so the common response needs no extra pass.
    """
    if listed is None:
        listed = NOTHING if upgrade else _listed_unless_plain(headers)
    parts = [status_line(status)]
    has_server = has_date = False
    actions = _DOWNSTREAM_ACTIONS
    for name, value in headers:
        lname = name.lower()
        action = actions.get(lname)
        if action is None:
            if not listed or lname not in listed:
                parts += (lname, b": ", value, b"\r\n")
        elif action >= _SERVER and listed and lname in listed:
            continue  # `Connection: server` / `date`: dropped, then written as if the upstream sent none
        elif action == _SERVER:
            if not has_server:
                has_server = True
                parts.append(SERVER_HEADER)
        elif action == _DATE:
            has_date = True
            parts += (lname, b": ", value, b"\r\n")
        elif upgrade and (action == _CONNECTION or lname == b"upgrade"):
            parts += (lname, b": ", value, b"\r\n")
    if service_time_ms is not None:
        parts.append(UPSTREAM_SERVICE_TIME + b"%d\r\n" % service_time_ms)
    if not has_date:
        parts.append(date_line)
    if not has_server:
        parts.append(SERVER_HEADER)
    if close:
        parts.append(CONNECTION_CLOSE)
    if chunked:
        parts.append(CHUNKED_HEADER)
    elif headers_only and status >= 200 and status not in (204, 304) and not _declares_length(headers):
        parts.append(EMPTY_LENGTH_HEADER)
    parts.append(b"\r\n")
    return b"".join(parts)


def _declares_length(headers: Headers) -> bool:
    return any(len(name) == 14 and name.lower() == b"content-length" for name, _ in headers)


def _listed_unless_plain(headers: Headers) -> frozenset[bytes]:
    """listed_by_connection, skipped when no Connection header lists more than keep-alive/close."""
    for name, value in headers:
        if (
            len(name) == 10
            and name.lower() == b"connection"
            and value.strip().lower() not in PLAIN_CONNECTION
        ):
            return listed_by_connection(headers)
    return NOTHING


LAST_CHUNK = b"0\r\n\r\n"


def chunk_parts(data: bytes) -> list[bytes]:
    """One HTTP/1.1 chunk of `data` (the parsers hand us de-chunked bodies; a chunked message is re-framed)."""
    return [b"%x\r\n" % len(data), data, b"\r\n"]
