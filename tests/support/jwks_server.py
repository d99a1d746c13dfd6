"""A real local JWKS server (HTTP or HTTPS with a throw-away test CA) whose answers a test can change.

The test sets `document`, `status`, `headers`, `delay_s`, `redirect_to` or `chunked` at any time, and
`start()` / `stop()` it on a fixed loopback port (so "down at start, up later" and "killed later" work).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.support.samples import SAMPLES

ISTIO_JWKS = (SAMPLES / "jwks.json").read_text()
ISTIO_KID = "DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ"
JWKS_PATH = "/jwks.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def ec_jwks(*kids: str) -> str:
    """A JWKS with one fresh P-256 key per kid (fast to generate, accepted by parse_jwks)."""
    keys = []
    for kid in kids:
        numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
        keys.append({"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": kid,
                     "x": _b64(numbers.x), "y": _b64(numbers.y)})  # fmt: skip
    return json.dumps({"keys": keys})


@dataclass(frozen=True)
class TestCA:
    """A CA and a server certificate for 127.0.0.1/localhost, written as PEM files under `directory`."""

    ca_file: str
    cert_file: str
    key_file: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def make_test_ca(directory: Path, name: str = "meshgate test CA") -> TestCA:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(san, critical=False).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    paths = {n: directory / f"{n}.pem" for n in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return TestCA(str(paths["ca"]), str(paths["cert"]), str(paths["key"]))


class JwksServer:
    """Serves `document` at JWKS_PATH (and any path) on a fixed loopback port."""

    def __init__(self, *, tls: TestCA | None = None, document: str | bytes = ISTIO_JWKS) -> None:
        self.tls = tls
        self.port = free_port()
        self.document: str | bytes = document
        self.status = 200
        self.headers: dict[str, str] = {}
        self.delay_s = 0.0
        self.redirect_to: str | None = None
        self.chunked = False
        self.hits = 0
        self._runner: web.AppRunner | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def url(self, path: str = JWKS_PATH) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        ctx = self.tls.server_context() if self.tls else None
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=ctx, reuse_address=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.redirect_to is not None and request.path == JWKS_PATH:
            return web.Response(status=302, headers={"Location": self.redirect_to})
        body = self.document.encode() if isinstance(self.document, str) else self.document
        headers = {"Content-Type": "application/json", **self.headers}
        if not self.chunked:
            return web.Response(status=self.status, body=body, headers=headers)
        response = web.StreamResponse(status=self.status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(0, len(body), 65536):
            await response.write(body[i : i + 65536])
        await response.write_eof()
        return response
