"""A request head as the gateway reads it: raw bytes to forward, text for the engine and the log, and
what Envoy's HTTP/1 codec and connection manager refuse before any filter runs.

The refusals every port shares (transfer coding, Host) are server/http1.py's; the gateway adds the ones only
a proxy needs (HTTP/1.1 only, Connection listings, websocket-only upgrades, origin-form targets, fragments).
"""

from __future__ import annotations

from meshgate.engine.attributes import RequestAttributes
from meshgate.gateway.h2.grpc_reply import grpc_deadline
from meshgate.gateway.heads import (
    MAX_CONNECTION_TOKENS,
    NOMINATION_REFUSED,
    NOTHING,
    WEBSOCKET,
    listed_by_connection,
)
from meshgate.gateway.local_reply import UPGRADE_REQUIRED_BODY
from meshgate.server.http1 import BAD_REQUEST_BODY, Refusal, host_refusal, transfer_coding_refusal

_HASH = ord("#")


class RequestHead:
    """A parsed request head: raw bytes for re-serializing, str views for the engine and the log."""

    __slots__ = (
        "attr_headers",
        "chunked",
        "deadlines",
        "expect_continue",
        "h2c",
        "has_body",
        "host",
        "keep_alive",
        "listed",
        "method",
        "method_str",
        "protocol",
        "raw_headers",
        "reject",
        "target",
        "target_str",
        "upgrade",
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
        self.protocol = "HTTP/1.1"  # %PROTOCOL% in the access log; "HTTP/2" for an HTTP/2 stream
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
        # envoyproxy/envoy:source/common/http/http1/codec_impl.cc "Ignore h2c upgrade requests until we
        # support them": answered as HTTP/1.1 (Upgrade and HTTP2-Settings are hop-by-hop: never forwarded)
        self.h2c = upgrade is not None and upgrade[0].strip().lower() == "h2c"
        if self.h2c:
            upgrade, upgrade_requested = None, False
        self.upgrade = upgrade[0].encode("latin-1") if upgrade else None
        self.deadlines = None if "grpc-timeout" not in attrs else grpc_deadline(attrs)  # else the route's
        self.reject = self._rejection(http_version, upgrade_requested, te, host, connection)

    def _rejection(
        self,
        http_version: str,
        upgrade_requested: bool,
        te: tuple[str, ...] | None,
        host: tuple[str, ...] | None,
        connection: tuple[str, ...] | None,
    ) -> Refusal | None:
        """What Envoy's HTTP/1 codec / HCM refuses before any filter runs (observed on Envoy 1.40), plus
        meshgate's stricter answers where Envoy is lenient (docs/security.md "HTTP and transport"); the
        checks every port makes are server/http1.py's, in Envoy's order among these."""
        if http_version != "1.1":
            return 426, UPGRADE_REQUIRED_BODY  # accept_http_10 is off in Istio
        if te is not None:
            refused = transfer_coding_refusal(te)
            if refused is not None:
                return refused
        if connection is not None and self.listed:
            refused = self._connection_refused(connection)
            if refused is not None:
                return refused
        if not self.host or len(host or ()) != 1:  # the common request has one non-empty Host: no call
            refused = host_refusal(host)
            if refused is not None:
                return refused
        if upgrade_requested and (self.upgrade is None or self.upgrade.lower() != WEBSOCKET):
            return 403, ""  # only websocket upgrades are configured (Istio); CONNECT is not
        target = self.target
        if target[:1] != b"/":
            return 400, BAD_REQUEST_BODY  # origin-form only (RFC 9112 §3.2.1); Envoy's codec 400 (observed)
        if _HASH in target:  # an int operand: a memchr, cheaper than the bytes search `b"#" in target`
            return 400, ""  # Envoy's HCM: a fragment in the path → empty 400 (observed)
        return None

    def _connection_refused(self, connection: tuple[str, ...]) -> Refusal | None:
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
