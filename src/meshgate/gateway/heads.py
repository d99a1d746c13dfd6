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

from meshgate.engine.attributes import RequestAttributes
from meshgate.gateway.local_reply import (
    BAD_REQUEST_BODY,
    CONNECTION_CLOSE,
    NOT_IMPLEMENTED_BODY,
    SERVER_HEADER,
    UPGRADE_REQUIRED_BODY,
    status_line,
)

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
UPSTREAM_SERVICE_TIME = b"x-envoy-upstream-service-time: "
CHUNKED_HEADER = b"transfer-encoding: chunked\r\n"
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
_HASH = ord("#")


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
) -> bytes:
    """The response head Envoy writes for a proxied response (see the module docstring for the order).

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
    parts.append(b"\r\n")
    return b"".join(parts)


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


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (the parsers hand us de-chunked bodies; we re-frame them)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


class RequestHead:
    """A parsed request head: raw bytes for re-serializing, str views for the engine and the log."""

    __slots__ = (
        "attr_headers", "chunked", "expect_continue", "has_body", "host", "keep_alive", "listed", "method",
        "method_str", "raw_headers", "reject", "target", "target_str", "upgrade",
    )  # fmt: skip

    def __init__(
        self,
        method: bytes,
        target: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        *,
        keep_alive: bool = True,
        upgrade_requested: bool = False,
        http_version: str = "1.1",
    ) -> None:
        self.method = method
        self.target = target
        self.raw_headers = raw_headers
        self.keep_alive = keep_alive
        self.method_str = method.decode("latin-1")
        self.target_str = target.decode("latin-1")
        attrs: dict[str, tuple[str, ...]] = {}  # the engine's view: lower-cased names, every value in order
        for name, value in raw_headers:
            key = name.lower().decode("latin-1")
            prev = attrs.get(key)
            attrs[key] = (value.decode("latin-1"),) if prev is None else (*prev, value.decode("latin-1"))
        self.attr_headers = attrs
        host = attrs.get("host")
        self.host = host[0] if host else ""
        te = attrs.get("transfer-encoding")
        self.chunked = chunked = te is not None and "chunked" in ",".join(te).lower()
        length = attrs.get("content-length")
        self.has_body = chunked or (length is not None and length[0].strip() not in ("", "0"))
        expect = attrs.get("expect")
        self.expect_continue = expect is not None and expect[0].strip().lower() == "100-continue"
        connection = attrs.get("connection")
        self.listed = NOTHING if connection is None else listed_by_connection(raw_headers)
        upgrade = attrs.get("upgrade") if upgrade_requested else None
        self.upgrade = upgrade[0].encode("latin-1") if upgrade else None
        self.reject = self._rejection(http_version, upgrade_requested, te, host, connection)

    def _rejection(
        self,
        http_version: str,
        upgrade_requested: bool,
        te: tuple[str, ...] | None,
        host: tuple[str, ...] | None,
        connection: tuple[str, ...] | None,
    ) -> tuple[int, str] | None:
        """What Envoy's HTTP/1 codec / HCM refuses before any filter runs (observed on Envoy 1.40), plus
        meshgate's stricter answers where Envoy is lenient (docs/security.md "HTTP and transport"). llhttp has already
        refused malformed lines, Content-Length, TE+CL, obs-fold, bare CR/LF, NUL and bad names (400)."""
        if http_version != "1.1":
            return 426, UPGRADE_REQUIRED_BODY  # accept_http_10 is off in Istio
        if te is not None and (len(te) != 1 or te[0].strip().lower() != "chunked"):
            return 501, NOT_IMPLEMENTED_BODY  # Envoy: only a lone `chunked` coding (RFC 9112 §6.1)
        if connection is not None and self.listed:
            refused = self._connection_refused(connection)
            if refused is not None:
                return refused
        if not self.host:
            return 400, ""  # missing_host_header: empty 400, connection closed
        if host is not None and len(host) > 1:
            return 400, ""  # meshgate: RFC 9112 §3.2 (Envoy joins the values with `,`)
        if upgrade_requested and (self.upgrade is None or self.upgrade.lower() != WEBSOCKET):
            return 403, ""  # only websocket upgrades are configured (Istio); CONNECT is not
        target = self.target
        if target[:1] != b"/":
            return 400, BAD_REQUEST_BODY  # origin-form only (RFC 9112 §3.2.1); Envoy's codec 400 (observed)
        if _HASH in target:  # an int operand: memchr, several times faster than `b"#" in target`
            return 400, ""  # Envoy's HCM: a fragment in the path → empty 400 (observed)
        return None

    def _connection_refused(self, connection: tuple[str, ...]) -> tuple[int, str] | None:
        """Envoy's sanitizeConnectionHeader refusals; a listed `host` leaves no Host (empty 400, observed)."""
        listed = self.listed
        tokens = sum(1 for value in connection for token in value.split(",") if token.strip())
        refused_name = listed & NOMINATION_REFUSED or any(name[:1] == b":" for name in listed)
        if refused_name or tokens >= MAX_CONNECTION_TOKENS:
            return 400, BAD_REQUEST_BODY
        if b"host" in listed:
            return 400, ""
        return None

    def attributes(self, scheme: str, peer_ip: str, local_ip: str, local_port: int) -> RequestAttributes:
        """What the engine decides on: the request exactly as received, plus the connection's facts."""
        return RequestAttributes(
            method=self.method_str,
            path=self.target_str,
            authority=self.host,
            scheme=scheme,
            headers=self.attr_headers,
            peer_ip=peer_ip,
            local_port=local_port,
            local_ip=local_ip,
        )

    @property
    def user_agent(self) -> str | None:
        values = self.attr_headers.get("user-agent")
        return values[0] if values else None

    @property
    def request_id(self) -> str | None:
        values = self.attr_headers.get("x-request-id")
        return values[0] if values else None

    def forwarded_for(self, peer_ip: str) -> str:
        """The x-forwarded-for Envoy would send upstream (received values, then the peer)."""
        values = self.attr_headers.get("x-forwarded-for", ())
        return ",".join([*(v.strip() for v in values if v.strip()), peer_ip])
