"""The simplest thing that could work: a bare uvloop + httptools proxy that verifies RS256 bearer tokens.

    python bench/bare_proxy.py LISTEN_PORT UPSTREAM_PORT JWKS_FILE

A reference row for bench/gateway.py, not a product: it shows what one CPython process on this machine
can do with the same libraries when it does almost nothing else. Per request it parses the head,
takes the `Authorization: Bearer` token, verifies it once (a dict of verified tokens; RS256 with
`cryptography`, the key chosen by kid), answers 401 without a valid token, strips the header and
forwards the request over the connection's own keep-alive upstream connection, then relays the
response as the upstream framed it. No RBAC, no path normalization, no Envoy statuses, no
x-forwarded-*, no pipelining, no bodies, no flow control.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys

import httptools
import uvloop
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DENIED = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_keys(path: str) -> dict[str, rsa.RSAPublicKey]:
    keys = {}
    with open(path) as file:
        document = json.load(file)
    for jwk in document["keys"]:
        numbers = rsa.RSAPublicNumbers(
            int.from_bytes(b64(jwk["e"]), "big"), int.from_bytes(b64(jwk["n"]), "big")
        )
        keys[jwk["kid"]] = numbers.public_key()
    return keys


class Verifier:
    def __init__(self, keys: dict[str, rsa.RSAPublicKey]) -> None:
        self.keys = keys
        self.verified: dict[bytes, bool] = {}

    def ok(self, token: bytes) -> bool:
        hit = self.verified.get(token)
        if hit is None:
            hit = self.verified[token] = self._verify(token)
            if len(self.verified) > 100_000:
                self.verified.clear()
        return hit

    def _verify(self, token: bytes) -> bool:
        try:
            head, payload, sig = token.decode().split(".")
            key = self.keys[json.loads(b64(head))["kid"]]
            key.verify(b64(sig), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
            return True
        except (ValueError, KeyError, InvalidSignature):
            return False


class Upstream(asyncio.Protocol):
    def __init__(self, down: Downstream) -> None:
        self.down = down
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.down.transport.write(data)  # relayed as framed; the parser only finds the message end
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.down.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.down.transport.close()


class Downstream(asyncio.Protocol):
    def __init__(self, verifier: Verifier, upstream_port: int) -> None:
        self.verifier = verifier
        self.upstream_port = upstream_port
        self.parser = httptools.HttpRequestParser(self)
        self.up: Upstream | None = None
        self.pending: list[bytes] = []
        self.url = b""
        self.headers: list[bytes] = []
        self.token = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        loop.create_task(
            loop.create_connection(lambda: Upstream(self), "127.0.0.1", self.upstream_port)
        ).add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task) -> None:  # type: ignore[type-arg]
        self.up = task.result()[1]
        for head in self.pending:
            self.up.transport.write(head)  # type: ignore[union-attr]
        self.pending = []

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.url, self.headers, self.token = b"", [], b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.token = value[7:] if value.startswith(b"Bearer ") else b""
        else:
            self.headers.append(name + b": " + value + b"\r\n")

    def on_message_complete(self) -> None:
        if not self.token or not self.verifier.ok(self.token):
            self.transport.write(DENIED)
            return
        head = b"GET " + self.url + b" HTTP/1.1\r\n" + b"".join(self.headers) + b"\r\n"
        self.transport.pause_reading()  # one request at a time per connection
        if self.up is None:
            self.pending.append(head)
        else:
            self.up.transport.write(head)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.up is not None and self.up.transport is not None:
            self.up.transport.close()


async def main(listen: int, upstream: int, jwks: str) -> None:
    verifier = Verifier(load_keys(jwks))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Downstream(verifier, upstream), "127.0.0.1", listen, backlog=2048
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
