"""The gateway's downstream side: an asyncio Protocol per client connection, parsing with httptools.

Modelled on uvicorn's `protocols/http/httptools_impl.py`. Each parsed request head becomes an `Exchange`
(gateway/exchange.py) in a per-connection queue; only the head of the queue runs, so pipelined responses
go out in order, and reading pauses while a pipelined request waits. llhttp's strict parsing is the
request-smuggling defence: any parse error answers Envoy's 400 and closes; the head's size and count limits
are server/http1.py's (431), and RequestHead adds the checks llhttp leaves to us (transfer codings, Host,
request-target form, Connection listings); trailer fields are dropped (docs/security.md "HTTP and
transport"). After a websocket 101 the connection becomes a byte pipe to the upstream connection. Every
message is parsed: nothing is remembered from one request to the next (docs/performance.md says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import cast

import httptools

from meshgate.gateway.context import PAUSE_PIPELINE, PAUSE_TUNNEL, GatewayContext
from meshgate.gateway.downstream import Ending
from meshgate.gateway.exchange import Exchange
from meshgate.gateway.http1.responses import Http1Responses
from meshgate.gateway.http1.upstream import UpstreamConnection
from meshgate.gateway.request_head import RequestHead
from meshgate.gateway.router import SNI_ATTRIBUTE
from meshgate.gateway.transfer import DPE
from meshgate.server.http1 import BAD_REQUEST_BODY, HEADERS_TOO_LARGE_BODY, HeadReader

log = logging.getLogger("meshgate.gateway")
TUNNEL_BUFFER_LIMIT = 256 * 1024


class GatewayProtocol(HeadReader, Http1Responses, asyncio.Protocol):
    """One downstream connection."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.start_head()
        self.queue: deque[Exchange] = deque()
        self.parsing: Exchange | None = None  # the exchange whose body is still arriving
        self.failed = False  # the parser hit an error: nothing more is read
        self.paused = 0
        self.write_paused = False
        self.closing = False
        self.corked = 0
        self.wbuf: list[bytes] = []
        self.upgrade_buffer: list[bytes] | None = None  # set once an upgrade request was parsed
        self.tunnel: UpstreamConnection | None = None
        self.peer_ip = ""
        self.peer_ip_bytes = b""
        self.local_ip = ""
        self.local_port = 0
        self.sni: str | None = None

    # asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.peer_ip = str(peer[0]) if peer else ""
        self.peer_ip_bytes = self.peer_ip.encode()
        if sock:
            self.local_ip, self.local_port = str(sock[0]), int(sock[1])
        tls = transport.get_extra_info("ssl_object")
        self.sni = getattr(tls, SNI_ATTRIBUTE, None) if tls is not None else None
        self.ctx.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.ctx.connections.discard(self)
        queue, self.queue = self.queue, deque()
        for exchange in queue:
            exchange.downstream_lost()
        if self.tunnel is not None:
            self.tunnel.close()

    def data_received(self, data: bytes) -> None:
        if self.upgrade_buffer is not None:
            self._tunnel_data(data)
            return
        if self.failed:
            return
        self.corked += 1  # cork(): pipelined local replies leave together
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            rest = data[exc.args[0] :]
            if self.queue and self.queue[-1].req.h2c:  # an ignored h2c upgrade: HTTP/1.1 goes on
                self.parser = httptools.HttpRequestParser(self)
                if rest:
                    self.data_received(rest)
            elif not self.failed:
                self.upgrade_buffer = []
                if rest:
                    self._tunnel_data(rest)
        except httptools.HttpParserCallbackError as exc:
            log.error("gateway callback failed", exc_info=exc.__context__ or exc)
            self.abort()
        except httptools.HttpParserError:
            if not self.failed:  # a head already past the size limit was refused by Envoy's codec first
                too_large = self.in_message and self.head_bytes_exceeded()
                self._protocol_error(
                    *((431, HEADERS_TOO_LARGE_BODY) if too_large else (400, BAD_REQUEST_BODY))
                )
        except Exception:  # never let a bug reach the client as anything but a closed connection
            log.exception("gateway failed on a request")
            self.abort()
        else:
            if not self.failed and self.in_message and self.head_bytes_exceeded():  # still arriving
                self._protocol_error(431, HEADERS_TOO_LARGE_BODY)
        finally:
            self.corked -= 1  # uncork()
            if not self.corked and self.wbuf:
                self._flush()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._pause_upstream_reading(True)

    def resume_writing(self) -> None:
        self.write_paused = False
        self._pause_upstream_reading(False)

    # httptools callbacks (on_message_begin, on_url and on_header: HeadReader's) ---------------
    def on_headers_complete(self) -> None:
        if self.failed:  # a request after a refused one in the same read: never answered
            return
        if self.head_too_large():
            self._protocol_error(431, HEADERS_TOO_LARGE_BODY)
            return
        headers = self.headers
        self.headers = []  # trailer fields arrive through on_header too: they never join the head
        parser = self.parser
        head = RequestHead(
            parser.get_method(),
            self.url,
            headers,
            keep_alive=parser.should_keep_alive(),
            upgrade_requested=parser.should_upgrade(),
            http_version=parser.get_http_version(),
        )
        exchange = Exchange(self, head)
        self.parsing = exchange
        self._enqueue(exchange)

    def on_body(self, body: bytes) -> None:
        if self.parsing is not None:
            self.parsing.request_body(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        exchange, self.parsing = self.parsing, None
        if exchange is not None:
            exchange.request_complete()

    # exchanges ---------------------------------------------------------------------------------
    def _enqueue(self, exchange: Exchange) -> None:
        self.queue.append(exchange)
        if len(self.queue) == 1:
            exchange.begin()
        else:
            self.pause(PAUSE_PIPELINE)

    def exchange_done(self, exchange: Ending) -> None:
        """Called by an exchange once logged: start the next pipelined one, or close."""
        if self.queue and self.queue[0] is exchange:
            self.queue.popleft()
        if exchange.close_after or self.ctx.draining or (self.failed and not self.queue):
            self.close()
            return
        if self.queue:
            self.queue[0].begin()
        if len(self.queue) <= 1:
            self.resume(PAUSE_PIPELINE)

    def _protocol_error(self, status: int, body: str) -> None:
        """A malformed request: Envoy's 400 (or 431) after earlier pipelined responses, then close."""
        self.failed = True
        self.pause(PAUSE_PIPELINE)
        broken, self.parsing = self.parsing, None
        if broken is not None and broken.req.reject is not None:
            status, body = broken.req.reject  # its head was refused first (e.g. 501): that answer stands
        if broken is not None and broken.resp_started:
            self.close()  # mid-body after the response began: nothing sane to answer
            return
        if broken is not None and self.queue and self.queue[0] is broken:
            broken.reply(status, body, close=True, flags=DPE)
            return
        method = self.parser.get_method() if broken is None and self.in_message else b"-"
        head = RequestHead(method, self.url or b"-", [(b"host", b"-")])
        head.reject = (status, body)
        exchange = Exchange(self, head)
        exchange.req_done = True
        if broken is not None:
            with contextlib.suppress(ValueError):
                self.queue.remove(broken)
        self._enqueue(exchange)

    def fail(self, exchange: Ending) -> None:
        """An unexpected error while handling `exchange`: close without a traceback reaching the client."""
        exchange.close_after = True
        self.abort()

    # flow control and tunnel -------------------------------------------------------------------
    def pause(self, reason: int) -> None:
        was = self.paused
        self.paused |= reason
        if not was and self.transport is not None and not self.closing:
            with contextlib.suppress(RuntimeError):
                self.transport.pause_reading()

    def resume(self, reason: int) -> None:
        if not self.paused & reason:
            return
        self.paused &= ~reason
        if not self.paused and self.transport is not None and not self.closing:
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()

    def _pause_upstream_reading(self, paused: bool) -> None:
        if self.tunnel is not None:
            self.tunnel.pause_reading(paused)
        elif self.queue and self.queue[0].up is not None:
            self.queue[0].up.pause_reading(paused)

    def start_tunnel(self, up: UpstreamConnection) -> None:
        """After the upstream's 101: bytes flow both ways untouched."""
        self.tunnel = up
        buffered, self.upgrade_buffer = self.upgrade_buffer or [], []
        if buffered:
            up.writelines(buffered)
        self.resume(PAUSE_TUNNEL)

    def _tunnel_data(self, data: bytes) -> None:
        if self.tunnel is not None:
            if self.queue:
                self.queue[0].tunnel_sent(len(data))
            self.tunnel.write(data)
            return
        assert self.upgrade_buffer is not None
        self.upgrade_buffer.append(data)
        if sum(map(len, self.upgrade_buffer)) > TUNNEL_BUFFER_LIMIT:
            self.pause(PAUSE_TUNNEL)

    # writing and closing -----------------------------------------------------------------------
    def cork(self) -> None:
        """Hold writes until the matching uncork(): one syscall per batch instead of one per write."""
        self.corked += 1

    def uncork(self) -> None:
        self.corked -= 1
        if self.corked == 0 and self.wbuf:
            self._flush()

    def _flush(self) -> None:
        buffered, self.wbuf = self.wbuf, []
        if self.transport is not None and not self.closing:
            self.transport.writelines(buffered)

    def write(self, data: bytes) -> None:
        if self.corked:
            self.wbuf.append(data)
        elif not self.closing and self.transport is not None:
            self.transport.write(data)

    def writelines(self, parts: list[bytes]) -> None:
        if self.corked:
            self.wbuf.extend(parts)
        elif not self.closing and self.transport is not None:
            self.transport.writelines(parts)

    def drain(self) -> None:
        if not self.queue and not self.in_message:
            self.close()

    def close(self) -> None:
        """Close after the buffered response bytes are flushed."""
        if not self.closing and self.transport is not None:
            if self.wbuf:
                self._flush()
            self.closing = True
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closing = True
            self.transport.abort()
