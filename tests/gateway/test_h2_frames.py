"""The frames of an HTTP/2 answer (gateway/h2/stream.py): a body and its end that the gateway has together
leave as one DATA frame with END_STREAM, for a relayed response as for a local reply — not DATA and then an
empty DATA, which costs a frame and an h2 call per request.

The upstream writes its whole HTTP/1.1 response with one sendall on loopback, so the gateway reads head,
body and end at once. Mutation caught: pumping each DATA as it comes (the end then rides on a second, empty
DATA frame).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hyperframe.frame import DataFrame, HeadersFrame
from tests.support.h2_facts import DEMO_JWT
from tests.support.h2_hostile import request
from tests.support.h2_raw import RawH2

BODY = b"Hello World!"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n" + BODY


class OneWriteUpstream:
    """Answers every request on a keep-alive connection with RESPONSE in a single write."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    conn.sendall(RESPONSE)


@pytest.fixture
def gateway(start_gateway: Any) -> Iterator[Any]:
    upstream = OneWriteUpstream()
    yield start_gateway(f"http://127.0.0.1:{upstream.port}")
    upstream.sock.close()


ROWS = [
    ("relayed 200", DEMO_JWT, b"200", BODY),
    ("local 403 (no token)", None, b"403", b"RBAC: access denied"),
]


@pytest.mark.parametrize("name, token, status, body", ROWS, ids=[r[0] for r in ROWS])
def test_body_and_end_in_one_data_frame(gateway: Any, name: str, token: str | None, status: bytes,
                                        body: bytes) -> None:  # fmt: skip
    client = RawH2(gateway.port)
    client.send(client.settings_ack(), client.headers_frame(1, request(path="/frames", token=token)))
    frames = client.read(lambda fs: any("END_STREAM" in f.flags for f in fs if f.stream_id == 1), timeout=5)
    mine = [f for f in frames if f.stream_id == 1]
    assert [type(f) for f in mine] == [HeadersFrame, DataFrame], mine
    head, data = mine
    assert dict(head.decoded)[":status"] == status.decode()  # type: ignore[attr-defined]
    assert "END_STREAM" not in head.flags
    assert data.data == body and "END_STREAM" in data.flags
