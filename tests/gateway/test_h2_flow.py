"""HTTP/2 flow control through the gateway, both ways (gateway/h2/stream.py): a client that stops reading
makes the gateway stop reading the upstream instead of buffering the response, and a request body larger
than every window the gateway advertised still arrives whole (its DATA is acknowledged as the upstream takes
it). Buffered bytes are read from the live connection objects, not inferred from time.

Mutation caught: a stream that queues response DATA without pausing the upstream holds the whole 32 MB
response (the bound below is 2 MiB); one that never acknowledges request DATA stalls the 20 MB upload at the
16 MiB stream window (the upload times out).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, ResponseReceived, StreamEnded, WindowUpdated
from hyperframe.frame import GoAwayFrame
from tests.support.h2_facts import DEMO_JWT
from tests.support.h2_hostile import request
from tests.support.h2_raw import REFUSED_STREAM, RawH2
from tests.support.jwks_server import make_test_ca
from tests.support.servers import Upstream

from meshgate.gateway.h2.protocol import H2Protocol
from meshgate.gateway.h2.stream import OUTBOUND_HIGH_WATER

RESPONSE_SIZE = 32 * 1024 * 1024
UPLOAD_SIZE = 20 * 1024 * 1024  # above the 16 MiB stream window and near the 24 MiB connection window


@pytest.fixture
def gateway(start_gateway: Any, upstream: Upstream) -> Iterator[Any]:
    yield start_gateway(upstream.url)


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.conn.initiate_connection()
        self.flush()

    def flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def request(self, method: str, path: str, end: bool) -> int:
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "http"), (":authority", "h"), (":path", path),
                   ("authorization", f"Bearer {DEMO_JWT}")]  # fmt: skip
        self.conn.send_headers(sid, headers, end_stream=end)
        self.flush()
        return sid

    def events(self) -> list[Any]:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("closed")
        out = self.conn.receive_data(data)
        self.flush()
        return out


def _h2_connections(gateway: Any) -> list[H2Protocol]:
    ctx = gateway.gateway.ctx
    return [c for c in list(ctx.connections) if isinstance(c, H2Protocol)]


def test_slow_reader_pauses_the_upstream_instead_of_buffering(gateway: Any) -> None:
    client = Client(gateway.port)
    sid = client.request("GET", f"/big?n={RESPONSE_SIZE}", end=True)
    time.sleep(1.5)  # the client reads nothing: its 64 KiB window shuts, the gateway must stop reading
    (conn,) = _h2_connections(gateway)
    held = sum(s.outbox_size for s in conn.streams.values())
    assert held <= OUTBOUND_HIGH_WATER + 1024 * 1024, held
    received, status = 0, None
    ended = False
    while not ended:
        for event in client.events():
            if isinstance(event, ResponseReceived):
                status = dict(event.headers)[b":status"]
            elif isinstance(event, DataReceived):
                received += len(event.data)
                client.conn.acknowledge_received_data(event.flow_controlled_length, sid)
            elif isinstance(event, StreamEnded):
                ended = True
        client.flush()
    assert (status, received) == (b"200", RESPONSE_SIZE)


def test_request_body_larger_than_the_windows_arrives_whole(gateway: Any, upstream: Upstream) -> None:
    client = Client(gateway.port)
    sid = client.request("POST", "/upload", end=False)
    view = memoryview(b"u" * UPLOAD_SIZE)
    deadline = time.monotonic() + 30
    while view:
        window = min(client.conn.local_flow_control_window(sid), client.conn.max_outbound_frame_size)
        if window <= 0:
            assert time.monotonic() < deadline, "the gateway stopped opening the window"
            for event in client.events():
                assert isinstance(event, (WindowUpdated,)) or not isinstance(event, ResponseReceived)
            continue
        client.conn.send_data(sid, bytes(view[:window]))
        view = view[window:]
        client.flush()
    client.conn.end_stream(sid)
    client.flush()
    body, ended = b"", False
    while not ended:
        for event in client.events():
            if isinstance(event, DataReceived):
                body += event.data
            ended = ended or isinstance(event, StreamEnded)
    assert b'"received": %d' % UPLOAD_SIZE in body, body
    assert upstream.seen[-1].body_size == UPLOAD_SIZE


def test_drain_sends_goaway_and_lets_the_open_stream_finish(start_gateway: Any, upstream: Upstream) -> None:
    """A stopping gateway (SIGTERM: gateway/serve.py stop) tells HTTP/2 clients with GOAWAY NO_ERROR naming
    the last stream it took, answers that stream, refuses a newer one, then closes — the HTTP/1.1 drain, in
    HTTP/2's words."""
    gw = start_gateway(upstream.url)
    auth = ("authorization", f"Bearer {DEMO_JWT}")
    with RawH2(gw.port) as raw:
        raw.send(raw.settings_ack(), raw.headers_frame(1, request(path="/slow?s=0.5", extra=(auth,))))
        time.sleep(0.2)
        gw.loop.call_soon_threadsafe(gw.gateway.ctx.drain)
        raw.read(lambda fs: any(isinstance(f, GoAwayFrame) for f in fs), 3)
        raw.send(raw.headers_frame(3, request(extra=(auth,))))
        raw.read(lambda fs: False, 3)  # until the gateway closes
        assert raw.closed
        goaway = raw.goaway()
        assert goaway is not None and (goaway.error_code, goaway.last_stream_id) == (0, 1)
        assert raw.status_of(1) == 200 and raw.resets() == {3: REFUSED_STREAM}
        ends = [f for f in raw.frames if f.stream_id == 1 and "END_STREAM" in f.flags]
        assert len(ends) == 1


ALLOW_ALL = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: default}
spec:
  action: ALLOW
  rules:
  - {}
"""


def test_https_upstream_speaks_h2_by_alpn(start_gateway: Any, tmp_path: Path) -> None:
    """`--upstream https://… --upstream-protocol h2`: the upstream connection offers ALPN h2 and carries the
    request as an HTTP/2 stream. The upstream is a second meshgate (TLS listener, built-in app), whose access
    log says which protocol reached it; the client speaks HTTP/1.1 to the first."""
    ca = make_test_ca(tmp_path / "ca")
    inner = start_gateway(None, policy=ALLOW_ALL, tls_cert=ca.cert_file, tls_key=ca.key_file)
    outer = start_gateway(f"https://localhost:{inner.port}", upstream_protocol="h2", ca_file=ca.ca_file)
    with socket.create_connection(("127.0.0.1", outer.port), timeout=5) as s:
        s.sendall(f"GET /hello HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {DEMO_JWT}\r\n\r\n".encode())
        answer = b""
        while not answer.endswith(b"Hello World! /hello"):
            chunk = s.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    deadline = time.monotonic() + 5  # the access log is flushed once a second
    while '"GET /hello HTTP/2"' not in inner.log.getvalue():
        assert time.monotonic() < deadline, inner.log.getvalue()
        time.sleep(0.05)
