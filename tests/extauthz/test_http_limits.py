"""The ext_authz HTTP port reads request heads as the gateway does (server/http1.py), over a real socket.

The same limits as Envoy's HTTP/1 codec and the gateway (tests/gateway/test_gateway_replies.py): more than
100 headers or more than 60 KiB of head → 431 (envoyproxy/envoy HttpProtocolOptions max_headers_count,
HttpConnectionManager max_request_headers_kb), a transfer coding other than a lone `chunked` → 501, no Host
or a repeated one → 400; each closes the connection. Mutations caught: the port without a header-count
limit (the 101-headers row answers 403), a limit off by one (the 100-headers row), checks skipped on this
port (TE and Host rows decided by the policy), the size limit counted per header instead of per head.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.extauthz.conftest import LoopThread, start_authz

from meshgate.extauthz.service import AuthzServer

DENY_ALL = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: nothing, namespace: istio-system}
spec: {action: ALLOW}
"""


def head(*lines: str, host: str | None = "app.example") -> bytes:
    fields = ([f"Host: {host}"] if host is not None else []) + list(lines)
    return ("GET /x HTTP/1.1\r\n" + "".join(f"{line}\r\n" for line in fields) + "\r\n").encode()


def many(count: int, size: int = 1) -> list[str]:
    return [f"X-H{i}: {'v' * size}" for i in range(count)]


ROWS = [
    pytest.param(head(*many(99)), 403, False, id="100-headers-decided"),  # Host + 99: the limit itself
    pytest.param(head(*many(100)), 431, True, id="101-headers-431"),
    pytest.param(head(*many(31, 2000)), 431, True, id="over-60k-in-31-headers-431"),
    pytest.param(head("X-Big: " + "a" * 70000), 431, True, id="one-70k-header-431"),
    pytest.param(head("Transfer-Encoding: gzip, chunked"), 501, True, id="te-not-chunked-501"),
    pytest.param(head(host=None), 400, True, id="no-host-400"),
    pytest.param(head("Host: other.example"), 400, True, id="two-hosts-400"),
]


@pytest.fixture(scope="module")
def server(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthzServer]:
    path: Path = tmp_path_factory.mktemp("limits") / "deny.yaml"
    path.write_text(DENY_ALL)
    started = start_authz(loop_thread, path, grpc="")
    yield started
    loop_thread.run(started.stop())


def exchange(port: int, data: bytes) -> tuple[int, bool]:
    """(status, whether the port closed the connection after answering)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        status = int(received.split(b" ", 2)[1])
        sock.settimeout(0.5)
        try:
            closed = sock.recv(65536) == b""
        except TimeoutError:
            closed = False
        return status, closed


@pytest.mark.e2e
@pytest.mark.parametrize(("data", "status", "closes"), ROWS)
def test_head_limits_and_checks(server: AuthzServer, data: bytes, status: int, closes: bool) -> None:
    assert server.http_port is not None
    assert exchange(server.http_port, data) == (status, closes)
