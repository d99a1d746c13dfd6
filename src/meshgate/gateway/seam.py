"""The upstream seam: what an exchange needs of the connection its request goes to, whatever its protocol.

An exchange (gateway/transfer.py) is handed a `Pool` (today the listener's `--upstream` pool; a router may
pick one per request) and asks it for an `Upstream`: an HTTP/1.1 keep-alive connection
(gateway/http1/upstream.py) or one stream of a multiplexed HTTP/2 connection. The pool builds the request head in
its own protocol's form (`request_head`, same arguments as gateway/heads.py upstream_request_head), so the
exchange never looks at bytes. The response comes back through `UpstreamSink`, the exchange's side.
The downstream seam (what an exchange writes to its client) is transfer.py's `Downstream`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Headers = Sequence[tuple[bytes, bytes]]
# An upstream request head: HTTP/1.1 bytes, or an HTTP/2 header list (pseudo-headers first).
UpstreamHead = bytes | list[tuple[bytes, bytes]]


class Output(Protocol):
    """The downstream connection: writes made between cork() and uncork() leave in one syscall."""

    def cork(self) -> None: ...
    def uncork(self) -> None: ...


class UpstreamSink(Protocol):
    """What an exchange offers its upstream connection (see gateway/transfer.py)."""

    @property
    def output(self) -> Output: ...  # where the response goes (corked around each upstream read)

    def on_response_head(self, status: int, headers: list[tuple[bytes, bytes]], framing: str) -> None: ...
    def on_response_body(self, data: bytes) -> None: ...
    def on_response_trailers(self, trailers: list[tuple[bytes, bytes]]) -> None: ...
    def on_response_end(self, keep_alive: bool) -> None: ...
    def on_upstream_lost(self, error: str) -> None: ...
    def on_upstream_paused(self, paused: bool) -> None: ...
    def on_tunnel_data(self, data: bytes) -> None: ...


class Upstream(Protocol):
    """One request's way to the upstream: `start`, `send_request`, then `send_body`… and `send_end`.

    `framing` in on_response_head is 'none' | 'length' | 'chunked' | 'close' (how the body is delimited;
    an HTTP/2 response without content-length reports 'chunked').
    """

    used: int  # requests this connection carried: a reused one may be retried once when it was closed
    lists_names: bool  # the response's Connection header lists names (HTTP/1.1 only)

    def start(self, sink: UpstreamSink, head_request: bool) -> None: ...
    def send_request(self, head: UpstreamHead, body: list[bytes], *, end: bool, chunked: bool) -> None: ...
    def send_body(self, data: bytes, *, chunked: bool) -> None: ...
    def send_end(self, *, chunked: bool) -> None: ...
    def pause_reading(self, paused: bool) -> None: ...
    def close(self) -> None: ...


class Pool(Protocol):
    """Where allowed requests of one destination go; `address` is Envoy's %UPSTREAM_HOST%."""

    @property
    def address(self) -> str: ...

    def request_head(
        self,
        method: bytes,
        target: bytes,
        headers: Headers,
        *,
        peer_ip: bytes,
        scheme: bytes,
        drop: frozenset[bytes] = ...,
        set_headers: Sequence[tuple[str, str]] = ...,
        chunked: bool = ...,
        upgrade: bytes | None = ...,
        listed: frozenset[bytes] | None = ...,
    ) -> tuple[UpstreamHead, bytes, bytes]: ...  # (head, x-forwarded-for sent, x-request-id sent)

    def acquire(self) -> Upstream | None: ...
    async def connect(self) -> Upstream: ...
    def release(self, up: Any) -> None: ...
    def close(self) -> None: ...
