"""The HTTP authorization port: Envoy ext_authz HTTP mode, nginx `auth_request`, Traefik ForwardAuth.

An asyncio Protocol parsing with httptools (llhttp), like the gateway's data path. The answer is
200 (empty body) with the upstream headers to set and `x-envoy-auth-headers-to-remove`, or the
denial with Envoy's exact status, body, `content-type` and `www-authenticate`. nginx's auth_request
drops the authorizer's body, so for a forward-auth request from nginx (`x-original-uri`) the denial
also carries the body in `x-meshgate-body`, for `auth_request_set` + `error_page`; an allowed
forward-auth answer names the normalized path in `x-meshgate-path` (docs/extauthz.md).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from email.utils import formatdate
from typing import Any, cast

import httptools

from meshgate.engine.decision import Decision
from meshgate.engine.status import reason_phrase
from meshgate.extauthz.attributes import ExtAuthzRequest
from meshgate.extauthz.decide import ExtAuthzDecider
from meshgate.extauthz.http_request import HttpMode, RefusedRequest, read_http_request
from meshgate.server.http1 import HeadReader, host_refusal, transfer_coding_refusal

log = logging.getLogger("meshgate.extauthz")

# envoyproxy/envoy source/extensions/filters/common/ext_authz/ext_authz.h (Http::Headers for ext_authz)
HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove"
BODY_HEADER = "x-meshgate-body"
PATH_HEADER = "x-meshgate-path"
NGINX_MARKER = "x-original-uri"  # nginx auth_request convention; Traefik uses x-forwarded-uri
_PRINTABLE = frozenset(range(0x20, 0x7F))


def encode_answer(
    decision: Decision, *, path_header: bool = False, body_header: bool = False, head: bool = False
) -> bytes:
    """The HTTP/1.1 answer for a decision (keep-alive; `date` from the clock).

    `path_header` (forward-auth style) adds the normalized path the policy was decided on, for the proxy
    to forward instead of the raw URI; `body_header` (nginx) repeats a denial's body in a header.
    """
    lines = [f"HTTP/1.1 {decision.status} {reason_phrase(decision.status)}"]
    body = b""
    if decision.allowed:
        edits = decision.upstream
        if edits is not None:
            set_names = {name for name, _ in edits.set}
            lines.extend(f"{name}: {value}" for name, value in edits.set)
            remove = [n for n in edits.remove if n not in set_names]
            if remove:
                lines.append(f"{HEADERS_TO_REMOVE}: {','.join(remove)}")
            if path_header:
                lines.append(f"{PATH_HEADER}: {edits.path}")
        lines.append("content-length: 0")
    else:
        body = decision.body.encode()
        lines.append(f"content-length: {len(body)}")
        if body and decision.content_type:
            lines.append(f"content-type: {decision.content_type}")
        lines.extend(f"{name}: {value}" for name, value in decision.headers)
        if body_header and body and all(b in _PRINTABLE for b in body):
            lines.append(f"{BODY_HEADER}: {decision.body}")
    lines.append(f"date: {formatdate(usegmt=True)}")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
    return head_bytes if head else head_bytes + body


def _error_answer(status: int) -> bytes:
    return (
        f"HTTP/1.1 {status} {reason_phrase(status)}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ).encode()


class _Pending:
    __slots__ = ("head", "keep_alive", "refused", "req", "started")

    def __init__(
        self, req: ExtAuthzRequest | RefusedRequest, keep_alive: bool, head: bool, started: float
    ) -> None:
        self.req = req.req if isinstance(req, RefusedRequest) else req
        self.refused = req.decision if isinstance(req, RefusedRequest) else None
        self.keep_alive, self.head, self.started = keep_alive, head, started


class AuthzHttpProtocol(HeadReader, asyncio.Protocol):
    """One connection: parse requests, answer them in order (pipelining-safe).

    Heads are read as the gateway reads them (server/http1.py): the same size and count limits (431), the
    same transfer-coding (501) and Host (400) checks; a refused request closes the connection.
    """

    def __init__(self, decider: ExtAuthzDecider, path_prefix: str = "", mode: HttpMode = "auto") -> None:
        self.decider = decider
        self.path_prefix = path_prefix
        self.mode: HttpMode = mode
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer_ip = "127.0.0.1"
        self.local_port = 0
        self.queue: collections.deque[_Pending] = collections.deque()
        self.busy = False
        self.refused = False  # a head was refused: nothing more on this connection is answered
        self.start_head()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if isinstance(peer, tuple):
            self.peer_ip = str(peer[0])
        if isinstance(local, tuple):
            self.local_port = int(local[1])

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400)
        except httptools.HttpParserError:
            self._refuse(431 if self.in_message and self.head_bytes_exceeded() else 400)
        else:
            if self.in_message and self.head_bytes_exceeded():  # a head still arriving, past the limit
                self._refuse(431)

    # httptools callbacks (on_message_begin, on_url and on_header: HeadReader's)
    def on_headers_complete(self) -> None:
        if self.refused:
            return
        if self.head_too_large():
            self._refuse(431)
            return
        te = [v.decode("latin-1") for n, v in self.headers if n.lower() == b"transfer-encoding"] or None
        hosts = [v.decode("latin-1") for n, v in self.headers if n.lower() == b"host"]
        refusal = transfer_coding_refusal(te) or host_refusal(hosts)
        if refusal is not None:
            self._refuse(refusal[0])

    def on_message_complete(self) -> None:
        self.in_message = False
        if self.refused or self.transport is None or self.transport.is_closing():
            return
        method = self.parser.get_method().decode("ascii", "replace")
        pairs = [(n.decode("latin-1"), v.decode("utf-8", "replace")) for n, v in self.headers]
        req = read_http_request(
            method,
            self.url.decode("utf-8", "replace"),
            pairs,
            self.peer_ip,
            self.local_port,
            self.path_prefix,
            self.mode,
        )
        self.queue.append(
            _Pending(req, self.parser.should_keep_alive(), method == "HEAD", time.perf_counter())
        )
        if not self.busy:
            self._drain()

    # answering
    def _drain(self) -> None:
        while self.queue and self.transport is not None:
            item = self.queue.popleft()
            decision = item.refused or self.decider.decide_now(item.req)
            if decision is None:
                self.busy = True
                self.transport.pause_reading()
                asyncio.get_running_loop().create_task(self._slow(item))
                return
            self._answer(item, decision)

    async def _slow(self, item: _Pending) -> None:
        try:
            decision = await self.decider.decide(item.req)
        except Exception:  # fail closed, never a traceback to the client
            log.exception("ext_authz HTTP decision failed")
            self._fail(500)
            return
        self.busy = False
        if self.transport is None:
            return
        self._answer(item, decision)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            self._drain()

    def _answer(self, item: _Pending, decision: Decision) -> None:
        self.decider.record(item.req, decision, item.started, "HTTP/1.1")
        if self.transport is None:
            return
        style = item.req.forward_auth
        answer = encode_answer(
            decision, path_header=bool(style), body_header=style == NGINX_MARKER, head=item.head
        )
        self.transport.write(answer)
        if not item.keep_alive:
            self.transport.close()
            self.transport = None

    def _refuse(self, status: int) -> None:
        self.refused = True
        self._fail(status)

    def _fail(self, status: int) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_error_answer(status))
            self.transport.close()
        self.transport = None


async def start_http_server(
    decider: ExtAuthzDecider, host: str, port: int, path_prefix: str = "", mode: HttpMode = "auto"
) -> tuple[asyncio.Server, int]:
    """Listen on host:port (0 picks a free port); returns the server and its bound port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: AuthzHttpProtocol(decider, path_prefix, mode), host, port, backlog=1024
    )
    sock: Any = server.sockets[0]
    return server, int(sock.getsockname()[1])
