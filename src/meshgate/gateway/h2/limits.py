"""Envoy 1.40's HTTP/2 defaults and its guards against hostile clients, applied to an `h2` server connection.

Sources: envoyproxy/envoy:source/common/http/http2/codec_impl.cc and Http2::Utility::OptionsLimits (the
defaults below), source/common/http/conn_manager_impl.cc (premature resets, CVE-2023-44487); nghttp2's
RST_STREAM rate limit (burst 1000, 33 a second) and its empty-frame rule. Observed outcomes:
tests/support/h2_hostile.py PROBES. Where `h2`'s own defaults differ they are overridden here; h2's limit of
64 CONTINUATION frames per header block is kept (Envoy allows 512): it bounds a header block to ~1 MiB.
"""

from __future__ import annotations

import time
from collections import deque

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.exceptions import ProtocolError
from h2.frame_buffer import FrameBuffer
from h2.settings import SettingCodes, Settings
from hyperframe.frame import ContinuationFrame, DataFrame, Frame, HeadersFrame, PriorityFrame, SettingsFrame

from meshgate.gateway.h2 import hpack_decoder, speedups

MAX_CONCURRENT_STREAMS = 1024
INITIAL_STREAM_WINDOW = 16 * 1024 * 1024
CONNECTION_WINDOW = 24 * 1024 * 1024
DEFAULT_WINDOW = 65535  # RFC 9113 §6.9.2
HEADER_TABLE_SIZE = 4096
# The first SETTINGS, in Envoy's order (no MAX_HEADER_LIST_SIZE, no MAX_FRAME_SIZE).
FIRST_SETTINGS: dict[int, int] = {
    SettingCodes.HEADER_TABLE_SIZE: HEADER_TABLE_SIZE,
    SettingCodes.ENABLE_CONNECT_PROTOCOL: 0,
    SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
    SettingCodes.INITIAL_WINDOW_SIZE: INITIAL_STREAM_WINDOW,
}
MAX_HEADERS_COUNT = 100  # max_headers_count (pseudo-headers count)
MAX_HEADERS_BYTES = 60 * 1024  # max_request_headers_kb 60: names + values
# What the HPACK decoder may produce before it gives up on the connection (RFC 7541 sizes, 32 bytes per
# field): well above the per-request limit, so a bomb is answered per stream as Envoy does.
DECODED_HEADER_LIST_LIMIT = 256 * 1024
MAX_EMPTY_FRAMES = 1  # max_consecutive_inbound_frames_with_empty_payload
PRIORITY_PER_STREAM = 100  # max_inbound_priority_frames_per_stream
MAX_OUTBOUND_CONTROL = 1000  # max_outbound_control_frames (queued while the client does not read)
PREMATURE_STREAMS = 500  # runtime overload.premature_reset_total_stream_count
RESET_BURST, RESET_REFILL_PER_S = 1000, 33.0


class TooManyEmptyFrames(ProtocolError):
    pass


class GuardedFrames(FrameBuffer):
    """h2's frame reader plus the checks nghttp2 makes before a frame reaches the state machine."""

    def __init__(self) -> None:
        super().__init__(server=True)
        self.empty_run = 0
        self.priority_frames = 0
        self.streams_seen = 0
        self.highest_headers = 0

    def _update_header_buffer(self, f: Frame | None) -> Frame | None:
        if isinstance(f, (DataFrame, HeadersFrame, ContinuationFrame)):
            if not f.data and "END_STREAM" not in f.flags:
                self.empty_run += 1
                if self.empty_run > MAX_EMPTY_FRAMES:
                    raise TooManyEmptyFrames("too many consecutive frames with an empty payload")
            else:
                self.empty_run = 0
        if isinstance(f, HeadersFrame) and not self._headers_buffer:
            sid = f.stream_id
            if sid and sid % 2 and sid < self.highest_headers:
                return None  # below the last stream id: nghttp2 ignores it (observed: 5, 3, 7)
            if sid > self.highest_headers:
                self.highest_headers = sid
                self.streams_seen += 1
        elif isinstance(f, PriorityFrame):
            self.priority_frames += 1
            if self.priority_frames > PRIORITY_PER_STREAM * (1 + self.streams_seen):
                raise ProtocolError("too many PRIORITY frames")
        return super()._update_header_buffer(f)


def first_settings() -> bytes:
    return SettingsFrame(0, settings=FIRST_SETTINGS).serialize()


class AbuseGuard:
    """The connection manager's premature-reset rule and nghttp2's RST_STREAM rate limit."""

    __slots__ = ("closed_streams", "last_refill", "premature", "tokens")

    def __init__(self) -> None:
        self.closed_streams = 0
        self.premature = 0
        self.tokens = float(RESET_BURST)
        self.last_refill = time.monotonic()

    def reset_received(self) -> bool:
        """A client RST_STREAM; False once the rate limit is exceeded (GOAWAY INTERNAL_ERROR)."""
        now = time.monotonic()
        self.tokens = min(RESET_BURST, self.tokens + (now - self.last_refill) * RESET_REFILL_PER_S)
        self.last_refill = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def stream_closed(self, premature: bool) -> bool:
        """A stream ended; False when too many ended reset before their response (close the connection)."""
        self.closed_streams += 1
        self.premature += premature
        if self.closed_streams < PREMATURE_STREAMS:
            return self.premature < PREMATURE_STREAMS // 2
        return self.premature * 2 < self.closed_streams


def server_connection() -> H2Connection:
    """h2's server side as meshgate runs it: Envoy's settings, our decoder, encoder and frame reader."""
    speedups.install()
    config = H2Configuration(client_side=False, header_encoding=None, normalize_inbound_headers=False,
                             validate_outbound_headers=False, normalize_outbound_headers=False)  # fmt: skip
    h2 = H2Connection(config)
    h2.local_settings = Settings(
        client=False,
        initial_values={
            SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
            SettingCodes.INITIAL_WINDOW_SIZE: INITIAL_STREAM_WINDOW,
        },
    )
    hpack_decoder.install(h2).max_header_list_size = DECODED_HEADER_LIST_LIMIT
    h2.encoder = speedups.StatelessEncoder()  # type: ignore[assignment]
    h2.incoming_buffer = GuardedFrames()
    return h2


def next_piece(h2: H2Connection, stream_id: int, outbox: deque[bytes]) -> bytes | None:
    """The next DATA payload from `outbox` that the stream's and the connection's windows (and the peer's
    frame size) allow now, the rest left queued; None when nothing may be sent yet."""
    if not outbox:
        return None
    window = min(h2.local_flow_control_window(stream_id), h2.max_outbound_frame_size)
    if window <= 0:
        return None
    data = outbox.popleft()
    if len(data) > window:
        outbox.appendleft(data[window:])
        data = data[:window]
    return data
