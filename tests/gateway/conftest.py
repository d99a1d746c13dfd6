"""Shared e2e fixtures for the gateway: a recording upstream, the gateway in a thread or a subprocess,
and a raw HTTP/1.1 client that returns the exact bytes received (for byte-for-byte Envoy comparisons).

Policies use Istio's sample key set inline (`jwks:`), so nothing depends on the JWKS fetcher.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from tests.support.samples import SAMPLES
from tests.support.servers import GatewayThread, Upstream

from meshgate.gateway.serve import ServeOptions

DEMO_JWT = (SAMPLES / "demo.jwt").read_text().strip()
ISTIO_JWKS = (SAMPLES / "jwks.json").read_text()
ROOT = Path(__file__).resolve().parents[2]
DATE_RE = re.compile(rb"date: [A-Za-z]{3}, \d\d [A-Za-z]{3} \d{4} \d\d:\d\d:\d\d GMT\r\n")

# issuer testing@secure.istio.io with the payload forwarded; DENY when no request principal (the seed).
POLICY = """\
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: default}}
spec:
  jwtRules:
  - issuer: testing@secure.istio.io
    jwks: '{jwks}'
    outputPayloadToHeader: x-jwt-payload
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: deny-anonymous, namespace: default}}
spec:
  action: DENY
  rules:
  - from:
    - source:
        notRequestPrincipals: ["*"]
"""


def write_policy(directory: Path, text: str | None = None) -> str:
    path = directory / "policy.yaml"
    path.write_text(text if text is not None else POLICY.format(jwks=ISTIO_JWKS))
    return str(path)


def mask_date(raw: bytes) -> bytes:
    """Replace the (time-dependent) `date` value, so whole responses compare byte for byte."""
    return DATE_RE.sub(b"date: <DATE>\r\n", raw)


# --- fixtures over tests/support/servers.py ----------------------------------------------------
@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Any]:
    """`start_gateway(upstream=None, policy=None, **ServeOptions fields) -> GatewayThread`."""
    started: list[GatewayThread] = []

    def start(upstream: str | None = None, policy: str | None = None, **fields: Any) -> GatewayThread:
        opts = ServeOptions(config_paths=(write_policy(tmp_path, policy),), listen="127.0.0.1:0", admin=None)
        gw = GatewayThread(replace(opts, upstream=upstream, **fields))
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


# --- the gateway as a subprocess ---------------------------------------------------------------------
@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    port: int
    stdout: list[bytes] = field(default_factory=list)
    stderr: list[bytes] = field(default_factory=list)

    def drain_pipes(self) -> None:
        """Keep reading stdout/stderr in threads so the access log never blocks the gateway."""
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            if stream is not None:
                threading.Thread(
                    target=lambda s=stream, o=sink: o.extend(iter(s.readline, b"")), daemon=True
                ).start()

    def rss_kib(self) -> int:
        """Resident set of the gateway process (and its forked workers), from /proc."""
        return rss_kib(self.proc.pid)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def spawn_serve(args: list[str], *, wait_listen: bool = True) -> ServeProcess:
    """`python -m meshgate serve ARGS` with the announced port parsed from its first stdout line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshgate", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(ROOT),
    )
    if not wait_listen:
        return ServeProcess(proc, 0)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    match = re.search(r"listening on https?://[^ ]*:(\d+) ", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no listener line: {line!r} {proc.stderr.read() if proc.stderr else b''!r}")
    served = ServeProcess(proc, int(match.group(1)), [line.encode()])
    served.drain_pipes()
    return served


# --- a raw HTTP/1.1 client -------------------------------------------------------------------
@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class RawClient:
    """One client connection; `request()` sends bytes and reads exactly one response back."""

    def __init__(self, port: int, *, tls: ssl.SSLContext | None = None, timeout: float = 10) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock: socket.socket = tls.wrap_socket(sock, server_hostname="localhost") if tls else sock
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(1 << 16)
        self.buffer += data
        return bool(data)

    def read_response(self, *, head: bool = False) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a response head: {self.buffer!r}")
        head_bytes, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [(k, v.lstrip()) for k, _, v in (line.partition(":") for line in lines[1:])]
        lowered = {k.lower(): v for k, v in headers}
        body = b""
        if head or status in (101, 204, 304) or 100 <= status < 200:
            pass
        elif "content-length" in lowered:
            n = int(lowered["content-length"])
            while len(self.buffer) < n and self._fill():
                pass
            body, self.buffer = self.buffer[:n], self.buffer[n:]
        elif lowered.get("transfer-encoding") == "chunked":
            body = self._chunks()
        else:
            while self._fill():
                pass
            body, self.buffer = self.buffer, b""
        return Response(status, headers, body, head_bytes + b"\r\n\r\n" + body)

    def _chunks(self) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                if not self._fill():
                    raise ConnectionError("closed inside a chunked body")
            size_line, _, self.buffer = self.buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(self.buffer) < size + 2:
                if not self._fill():
                    raise ConnectionError("closed inside a chunk")
            body += self.buffer[:size]
            self.buffer = self.buffer[size + 2 :]
            if size == 0:
                return body

    def request(self, data: bytes, *, head: bool = False) -> Response:
        self.send(data)
        return self.read_response(head=head)

    def closed_by_peer(self, wait: float = 2.0) -> bool:
        """True when the server closed the connection (EOF/reset) with nothing more to read."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def get(
    path: str, *, token: str | None = None, extra: str = "", method: str = "GET", host: str = "ex.com"
) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}{extra}\r\n".encode()


def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
