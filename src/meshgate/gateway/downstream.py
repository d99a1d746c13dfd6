"""The downstream seam: what an exchange (gateway/transfer.py) needs of its client.

An HTTP/1.1 connection implements it (gateway/http1/protocol.py with gateway/http1/responses.py: Envoy's
bytes, one exchange at a time); so does one HTTP/2 stream (gateway/h2: HEADERS, DATA and trailers frames). The `send_*`
calls render one part of the response in the client's protocol; `abort_response` ends a response that
cannot complete (HTTP/1.1 closes the connection). The upstream seam is gateway/seam.py.
"""

from __future__ import annotations

from typing import Protocol

from meshgate.gateway.context import GatewayContext
from meshgate.gateway.http1.upstream import UpstreamConnection
from meshgate.gateway.request_head import RequestHead
from meshgate.gateway.seam import Headers


class Ending(Protocol):
    """An exchange as its connection sees it once it ends."""

    close_after: bool  # the connection closes after this response


class Downstream(Protocol):
    """A client connection (HTTP/1.1) or stream (HTTP/2), as one exchange sees it."""

    ctx: GatewayContext
    peer_ip: str
    peer_ip_bytes: bytes
    local_ip: str
    local_port: int
    sni: str | None  # the TLS server name the client asked for (routing picks the server by it)
    paused: int

    @property
    def write_paused(self) -> bool: ...  # the client is not reading: upstream reading waits too

    def send_continue(self) -> None: ...
    def send_head(
        self,
        status: int,
        headers: Headers,
        *,
        date_line: bytes,
        service_ms: int | None,
        chunked: bool = False,
        close: bool = False,
        upgrade: bool = False,
        listed: frozenset[bytes] | None = None,
        end: bool = False,
        head_request: bool = False,
    ) -> None: ...
    def send_data(self, data: bytes, *, chunked: bool) -> None: ...
    def send_end(self, *, chunked: bool, trailers: Headers | None) -> None: ...
    def send_local_reply(
        self,
        req: RequestHead,
        status: int,
        body: str,
        headers: tuple[tuple[str, str], ...],
        *,
        close: bool,
        content_type: str,
        date_line: bytes,
    ) -> int: ...
    def abort_response(self) -> None: ...
    def write(self, data: bytes) -> None: ...  # tunnelled bytes after a 101 (HTTP/1.1 only)
    def cork(self) -> None: ...
    def uncork(self) -> None: ...
    def pause(self, reason: int) -> None: ...
    def resume(self, reason: int) -> None: ...
    def close(self) -> None: ...
    def start_tunnel(self, up: UpstreamConnection) -> None: ...
    def fail(self, exchange: Ending) -> None: ...
    def exchange_done(self, exchange: Ending) -> None: ...
