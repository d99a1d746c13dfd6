"""A small blocking HTTP/2 client for tests, on the sans-IO `h2` library.

`H2Client(port)` speaks h2c with prior knowledge; `H2Client(port, ca_file=...)` speaks TLS and offers ALPN
`h2` (and `http/1.1`, to see what the server picks: `alpn`). `request(...)` opens a stream (headers, an
optional body, optional trailers) and returns its id; `response(stream_id)` reads until that stream ends,
is reset or the connection goes away, and returns everything seen on it: the response headers in wire
order, the data, the trailers, a RST_STREAM code, and whether END_STREAM came on the HEADERS frame (a gRPC
"trailers-only" answer). A GOAWAY is kept in `goaway`. Every read has a deadline: a server that stays
silent raises TimeoutError, never hangs a test. Hostile byte sequences h2 refuses to write live in
tests/support/h2_raw.py.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

Headers = list[tuple[str, str]]


@dataclass
class GoAway:
    error_code: int
    last_stream_id: int
    additional_data: bytes


@dataclass
class H2Response:
    """What arrived on one stream."""

    stream_id: int
    headers: Headers = field(default_factory=list)  # the final response HEADERS, ':status' first
    informational: list[Headers] = field(default_factory=list)  # 1xx HEADERS, if any
    data: bytes = b""
    data_frames: int = 0
    trailers: Headers | None = None
    headers_ended_stream: bool = False  # END_STREAM on the HEADERS frame (gRPC trailers-only)
    ended: bool = False
    reset: int | None = None  # the server's RST_STREAM error code
    goaway: GoAway | None = None  # set when the connection went away before the stream ended

    @property
    def status(self) -> int:
        return int(self.header(":status") or 0)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None

    def trailer(self, name: str) -> str | None:
        values = [v for k, v in self.trailers or () if k == name]
        return ",".join(values) if values else None

    def grpc(self, name: str) -> str | None:
        """A gRPC status field: from the trailers, or from the HEADERS of a trailers-only answer."""
        return self.trailer(name) if self.trailers is not None else self.header(name)

    @property
    def done(self) -> bool:
        return self.ended or self.reset is not None or self.goaway is not None


def _text(pairs: Iterable[tuple[bytes | str, bytes | str]]) -> Headers:
    def s(x: bytes | str) -> str:
        return x.decode("latin-1") if isinstance(x, bytes) else x

    return [(s(k), s(v)) for k, v in pairs]


class H2Client:
    """One HTTP/2 connection to 127.0.0.1:`port` (h2c prior knowledge, or TLS + ALPN with `ca_file`)."""

    def __init__(
        self,
        port: int,
        *,
        ca_file: str | None = None,
        server_name: str = "localhost",
        alpn: Sequence[str] = ("h2", "http/1.1"),
        timeout: float = 5.0,
        validate_outbound: bool = True,
    ) -> None:
        self.timeout = timeout
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.alpn: str | None = None
        if ca_file is not None:
            ctx = ssl.create_default_context(cafile=ca_file)
            ctx.set_alpn_protocols(list(alpn))
            self.sock = ctx.wrap_socket(self.sock, server_hostname=server_name)
            self.alpn = self.sock.selected_alpn_protocol()
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=validate_outbound,
            normalize_outbound_headers=validate_outbound,
        )
        self.conn = h2.connection.H2Connection(config=config)
        self.streams: dict[int, H2Response] = {}
        self.goaway: GoAway | None = None
        self.closed = False  # the server closed the TCP connection
        self.remote_settings: dict[int, int] = {}
        self._pings_acked = 0
        self.conn.initiate_connection()
        self._flush()

    # --- sending -------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        authority: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        trailers: Sequence[tuple[str, str]] | None = None,
        scheme: str | None = None,
        end_stream: bool = True,
    ) -> int:
        """Open a stream; pseudo-headers first, then `headers` as given. Returns the stream id."""
        sid = self.conn.get_next_available_stream_id()
        pseudo = [(":method", method), (":scheme", scheme or ("https" if self.alpn else "http")),
                  (":authority", authority), (":path", path)]  # fmt: skip
        only_headers = end_stream and not body and trailers is None
        self.conn.send_headers(sid, [*pseudo, *headers], end_stream=only_headers)
        self.streams[sid] = H2Response(sid)
        self._flush()
        if body:
            self.send_data(sid, body, end_stream=end_stream and trailers is None)
        if trailers is not None:
            self.conn.send_headers(sid, list(trailers), end_stream=True)
            self._flush()
        return sid

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """Send `data`, waiting (up to the timeout) for the flow-control window when it is shut."""
        deadline = time.monotonic() + self.timeout
        view = memoryview(data)
        while True:
            window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
            if window <= 0 and len(view):
                self._pump(deadline, lambda: self.conn.local_flow_control_window(stream_id) > 0)
                continue
            chunk, view = view[:window], view[window:]
            self.conn.send_data(stream_id, bytes(chunk), end_stream=end_stream and not len(view))
            self._flush()
            if not len(view):
                return

    def reset(self, stream_id: int, error_code: int = 8) -> None:  # 8 = CANCEL
        self.conn.reset_stream(stream_id, error_code)
        self._flush()

    def ping(self) -> bool:
        """A PING round trip: True when the server acknowledged it (the connection still serves)."""
        before = self._pings_acked
        self.conn.ping(b"meshgate")
        self._flush()
        try:
            self._pump(time.monotonic() + self.timeout, lambda: self._pings_acked > before)
        except (TimeoutError, ConnectionError):
            return False
        return True

    # --- receiving -----------------------------------------------------------------------------
    def response(self, stream_id: int, timeout: float | None = None) -> H2Response:
        """Read until the stream ends, is reset, or the connection goes away."""
        stream = self.streams[stream_id]
        self._pump(time.monotonic() + (timeout or self.timeout), lambda: stream.done)
        return stream

    def exchange(
        self,
        method: str,
        path: str,
        authority: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> H2Response:
        return self.response(self.request(method, path, authority, headers, body))

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Read until the server closes the connection (True) or the deadline passes (False)."""
        try:
            self._pump(time.monotonic() + (timeout or self.timeout), lambda: self.closed)
        except TimeoutError:
            return False
        return True

    def _pump(self, deadline: float, check: Callable[[], bool]) -> None:
        while not check():
            if self.closed:
                for stream in self.streams.values():
                    if not stream.done and self.goaway is not None:
                        stream.goaway = self.goaway
                if not check():
                    raise ConnectionError("the server closed the connection")
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from the server in time")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError("no answer from the server in time") from None
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                self.closed = True
                continue
            try:
                events = self.conn.receive_data(chunk)
            except h2.exceptions.ProtocolError:
                self.closed = True
                raise
            for event in events:
                self._on_event(event)
            self._flush()

    def _on_event(self, event: h2.events.Event) -> None:
        sid = getattr(event, "stream_id", None)
        stream = self.streams.get(sid) if isinstance(sid, int) else None
        if isinstance(event, h2.events.InformationalResponseReceived) and stream is not None:
            stream.informational.append(_text(event.headers or []))
        elif isinstance(event, h2.events.ResponseReceived) and stream is not None:
            stream.headers = _text(event.headers or [])
            stream.headers_ended_stream = event.stream_ended is not None
        elif isinstance(event, h2.events.DataReceived) and stream is not None:
            stream.data += event.data or b""
            stream.data_frames += 1
            self.conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id or 0)
        elif isinstance(event, h2.events.TrailersReceived) and stream is not None:
            stream.trailers = _text(event.headers or [])
        elif isinstance(event, h2.events.StreamEnded) and stream is not None:
            stream.ended = True
        elif isinstance(event, h2.events.StreamReset) and stream is not None:
            stream.reset = int(event.error_code or 0)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = GoAway(
                int(event.error_code or 0), event.last_stream_id or 0, event.additional_data or b""
            )
            for other in self.streams.values():
                if not other.done:
                    other.goaway = self.goaway
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self.remote_settings.update({int(k): v.new_value for k, v in event.changed_settings.items()})
        elif isinstance(event, h2.events.PingAckReceived):
            self._pings_acked += 1

    def _flush(self) -> None:
        out = self.conn.data_to_send()
        if out and not self.closed:
            try:
                self.sock.sendall(out)
            except OSError:
                self.closed = True

    def close(self) -> None:
        try:
            if not self.closed:
                self.conn.close_connection()
                self._flush()
        finally:
            self.sock.close()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
