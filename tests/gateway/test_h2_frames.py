"""The frames of an HTTP/2 answer (gateway/h2/stream.py), as Envoy 1.40 lays them out.

Observed on the real Envoy (tests/support/h2_ingress.py rig, plain listener, an HTTP/1.1 upstream answering a
39-byte body with content-length): a relayed 200 is HEADERS, DATA(39), then an empty DATA with END_STREAM —
the HTTP/1 codec reports the body and the message's end separately; a local 403 is HEADERS, then one DATA(19)
with END_STREAM. The upstream here writes its whole response with one sendall, so the gateway has the body
and the end at once and could merge them: it must not. Mutations caught: merging the end into the body's
DATA frame (a cheaper answer tried for speed), or splitting a local reply's body from its end.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hyperframe.frame import DataFrame, HeadersFrame
from tests.support.h2_facts import DEMO_JWT
from tests.support.h2_hostile import request
from tests.support.h2_raw import RawH2
from tests.support.tcp_server import ThreadedTcpServer

BODY = b"Hello World!"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n" + BODY


class OneWriteUpstream(ThreadedTcpServer):
    """Answers every request on a keep-alive connection with RESPONSE in a single write."""

    def handle(self, conn: socket.socket) -> None:
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
    upstream.stop()


ROWS = [  # (frame type, payload or :status, END_STREAM) in order
    ("relayed 200", DEMO_JWT, [("HEADERS", b"200", False), ("DATA", BODY, False), ("DATA", b"", True)]),
    ("local 403 (no token)", None, [("HEADERS", b"403", False), ("DATA", b"RBAC: access denied", True)]),
]


def described(frame: Any) -> tuple[str, bytes, bool]:
    if isinstance(frame, HeadersFrame):
        return "HEADERS", dict(frame.decoded)[":status"].encode(), "END_STREAM" in frame.flags  # type: ignore[attr-defined]
    assert isinstance(frame, DataFrame), frame
    return "DATA", bytes(frame.data), "END_STREAM" in frame.flags


@pytest.mark.parametrize("name, token, expected", ROWS, ids=[r[0] for r in ROWS])
def test_frames_as_envoy(gateway: Any, name: str, token: str | None, expected: list[Any]) -> None:
    client = RawH2(gateway.port)
    client.send(client.settings_ack(), client.headers_frame(1, request(path="/frames", token=token)))
    frames = client.read(lambda fs: any("END_STREAM" in f.flags for f in fs if f.stream_id == 1), timeout=5)
    assert [described(f) for f in frames if f.stream_id == 1] == expected
