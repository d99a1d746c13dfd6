"""Real servers for end-to-end tests: a recording upstream and the gateway on its own loop in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from meshgate.gateway.serve import Gateway, ServeOptions


# --- the upstream ------------------------------------------------------------------------------
@dataclass
class Seen:
    """One request as the upstream received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body_size: int

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class Upstream:
    """An aiohttp app on its own loop in a thread: records requests, answers by path."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/ws":
            return await self._websocket(request)
        size = 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
        self.seen.append(
            Seen(request.method, request.raw_path, [(k, v) for k, v in request.headers.items()], size)
        )
        query = request.query
        if request.path.startswith("/slow"):
            await asyncio.sleep(float(query.get("s", "2")))
        if request.path.startswith("/big"):
            return await self._stream(request, int(query["n"]), chunked="chunked" in query)
        if request.path.startswith("/chunked"):
            return await self._stream(request, 3 * 1000, chunked=True, piece=1000)
        if request.path.startswith("/die"):
            response = web.StreamResponse(headers={"Content-Length": "1000"})
            await response.prepare(request)
            await response.write(b"x" * 10)
            assert request.transport is not None
            request.transport.abort()
            return response
        body = json.dumps({"path": request.raw_path, "received": size}).encode()
        return web.Response(
            body=body, status=int(query.get("status", "200")), content_type="application/json"
        )

    async def _stream(
        self, request: web.Request, n: int, *, chunked: bool, piece: int = 1 << 16
    ) -> web.StreamResponse:
        response = web.StreamResponse()
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = n
        await response.prepare(request)
        block = b"y" * piece
        sent = 0
        while sent < n:
            part = block[: min(piece, n - sent)]
            await response.write(part)
            sent += len(part)
        await response.write_eof()
        return response

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        self.seen.append(Seen(request.method, request.raw_path, list(request.headers.items()), 0))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str("echo: " + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    def start(self) -> Upstream:
        ready = threading.Event()

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self.handle)
            self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", self.port)
            self.loop.run_until_complete(site.start())
            self.port = self.runner.addresses[0][1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(10)
        return self

    def stop(self) -> None:
        runner, self.runner = self.runner, None
        if self.loop is not None and runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# --- the gateway in a thread ---------------------------------------------------------------------
class GatewayThread:
    """`Gateway` (gateway/serve.py) on a uvloop loop in a background thread; the access log in memory."""

    def __init__(self, opts: ServeOptions) -> None:
        import uvloop

        self.opts = opts
        self.log = io.StringIO()
        self.loop = uvloop.new_event_loop()
        self.gateway = Gateway(opts, with_admin=bool(opts.admin), access_log_stream=self.log)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.gateway.start())

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def port(self) -> int:
        return self.gateway.port

    def stop(self, grace: float = 0.5) -> None:
        with contextlib.suppress(Exception):
            self.call(self.gateway.stop(grace))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
