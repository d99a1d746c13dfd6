"""Raw HTTP/2 frames for hostile-input tests: what the `h2` state machine would refuse to send.

`RawH2(port)` opens h2c with prior knowledge (or TLS + ALPN h2 with `ca_file`), sends the preface and an
empty SETTINGS, and then writes exactly the frames a test builds (hyperframe frames, or bytes).
`read(until, timeout)` collects the server's frames until `until(frames)` holds, the server closes the
connection, or the deadline passes — it never hangs. HEADERS blocks are decoded with one HPACK decoder
per connection (`headers_of`), so a test can also read the answers a hostile client still gets.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Sequence

from hpack import Decoder, Encoder
from hyperframe.frame import (
    ContinuationFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# RFC 9113 §7 error codes
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL = 0x5, 0x6, 0x7, 0x8
COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 0x9, 0xB


class RawH2:
    def __init__(
        self, port: int, *, ca_file: str | None = None, settings: dict[int, int] | None = None
    ) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=5)
        if ca_file is not None:
            ctx = ssl.create_default_context(cafile=ca_file)
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.encoder, self.decoder = Encoder(), Decoder()
        self.frames: list[Frame] = []  # everything the server sent, in order
        self.closed = False
        self.reset_by_peer = False  # the server's close was a TCP RST (not a FIN)
        self._buf = b""
        settings_frame = SettingsFrame(0, settings=settings or {})
        self.send_bytes(PREFACE + settings_frame.serialize())

    # --- writing ------------------------------------------------------------------------------
    def send_bytes(self, data: bytes) -> bool:
        """False once the server has closed the connection (a write then fails)."""
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True
            return False
        return True

    def send(self, *frames: Frame) -> bool:
        return self.send_bytes(b"".join(f.serialize() for f in frames))

    def block(self, headers: Sequence[tuple[str, str]]) -> bytes:
        """An HPACK header block (this connection's encoder: call in the order the blocks are sent)."""
        return bytes(self.encoder.encode(list(headers)))

    def headers_frame(self, stream_id: int, headers: Sequence[tuple[str, str]], *, end_stream: bool = True,
                      end_headers: bool = True) -> HeadersFrame:  # fmt: skip
        flags = [f for f, on in (("END_STREAM", end_stream), ("END_HEADERS", end_headers)) if on]
        return HeadersFrame(stream_id, self.block(headers), flags=flags)

    def settings_ack(self) -> SettingsFrame:
        return SettingsFrame(0, flags=["ACK"])

    # --- reading ------------------------------------------------------------------------------
    def read(
        self, until: Callable[[list[Frame]], bool] = lambda fs: False, timeout: float = 2.0
    ) -> list[Frame]:
        """The server's frames so far, reading until `until(frames)`, EOF, or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.closed and not until(self.frames):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            except (ConnectionResetError, ssl.SSLError):
                chunk, self.reset_by_peer = b"", True
            if not chunk:
                self.closed = True
                break
            self._buf += chunk
            self._parse()
        return self.frames

    def _parse(self) -> None:
        while len(self._buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self._buf[:9]))
            if len(self._buf) < 9 + length:
                return
            frame.parse_body(memoryview(self._buf[9 : 9 + length]))
            self._buf = self._buf[9 + length :]
            if isinstance(frame, HeadersFrame | ContinuationFrame) and frame.data:
                frame.decoded = self.decoder.decode(bytes(frame.data), raw=False)  # type: ignore[attr-defined]
            self.frames.append(frame)

    def peer_closed(self) -> bool:
        """The server has closed (FIN or RST), seen without reading: Linux TCP_INFO's state byte is
        CLOSE_WAIT (8) or CLOSE (7). For floods, where reading would drain what the server must not flush."""
        state = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
        return state in (7, 8)

    def wait_peer_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.peer_closed():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def wait_closed(self, timeout: float = 3.0) -> bool:
        self.read(timeout=timeout)
        return self.closed

    # --- what came back -----------------------------------------------------------------------
    def goaway(self) -> GoAwayFrame | None:
        return next((f for f in self.frames if isinstance(f, GoAwayFrame)), None)

    def resets(self) -> dict[int, int]:
        """stream id → RST_STREAM error code."""
        return {f.stream_id: f.error_code for f in self.frames if isinstance(f, RstStreamFrame)}

    def headers_of(self, stream_id: int) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for f in self.frames:
            if isinstance(f, HeadersFrame | ContinuationFrame) and f.stream_id == stream_id:
                out += getattr(f, "decoded", [])
        return out

    def status_of(self, stream_id: int) -> int | None:
        values = [v for k, v in self.headers_of(stream_id) if k == ":status"]
        return int(values[0]) if values else None

    def server_settings(self) -> dict[int, int]:
        first = next((f for f in self.frames if isinstance(f, SettingsFrame) and "ACK" not in f.flags), None)
        return dict(first.settings) if first is not None else {}

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawH2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
