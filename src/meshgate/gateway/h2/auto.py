"""Which protocol a new downstream connection speaks, as Envoy's `codec_type: AUTO` decides (istiod's
choice for gateways): ALPN `h2` on TLS, or the HTTP/2 client preface (RFC 9113 §3.4) as the first bytes of a
plain connection — HTTP/2 with prior knowledge; anything else is HTTP/1.1 (gateway/http1/protocol.py).

The chosen protocol takes the transport over (`set_protocol`) and is given the bytes read so far; from then
on this object is out of the way.
"""

from __future__ import annotations

import asyncio
from typing import cast

from meshgate.gateway.context import GatewayContext
from meshgate.gateway.h2.protocol import H2Protocol
from meshgate.gateway.http1.protocol import GatewayProtocol

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def sniff(data: bytes) -> str:
    """'h2' when `data` opens with the HTTP/2 preface, 'wait' while it still may, else 'http1'."""
    if data.startswith(PREFACE):
        return "h2"
    return "wait" if PREFACE.startswith(data) else "http1"


class AutoProtocol(asyncio.Protocol):
    """A connection until its protocol is known."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.buffered = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            if ssl_object.selected_alpn_protocol() == "h2":
                self._switch(self._h2(), b"")
            else:
                self._switch(GatewayProtocol(self.ctx), b"")
            return
        self.ctx.connections.add(self)

    def data_received(self, data: bytes) -> None:
        data = self.buffered + data
        kind = sniff(data)
        if kind == "wait":
            self.buffered = data
            return
        self._switch(self._h2() if kind == "h2" else GatewayProtocol(self.ctx), data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ctx.connections.discard(self)

    def _h2(self) -> H2Protocol:
        assert self.transport is not None
        peer = self.transport.get_extra_info("peername")
        sock = self.transport.get_extra_info("sockname")
        return H2Protocol(
            self.ctx,
            (str(peer[0]) if peer else "", str(sock[0]) if sock else "", int(sock[1]) if sock else 0),
        )

    def _switch(self, protocol: asyncio.Protocol, data: bytes) -> None:
        assert self.transport is not None
        self.ctx.connections.discard(self)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if data:
            protocol.data_received(data)

    def drain(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
