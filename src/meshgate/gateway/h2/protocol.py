"""The gateway's HTTP/2 downstream: one asyncio Protocol per client connection, `h2` as the codec.

gateway/h2/auto.py picks it on ALPN `h2` or the HTTP/2 preface (Envoy's `codec_type: AUTO`, as istiod sets
it). Every stream is an Exchange (gateway/exchange.py) with an H2Stream (gateway/h2/stream.py) downstream:
the same engine decides `:method`, `:authority`, `:path` as HTTP/1.1's method, Host and path. Limits and
hostile input follow Envoy 1.40 (gateway/h2/limits.py): a connection-level protocol error closes the
connection without a GOAWAY, as Envoy does (envoyproxy/envoy:source/common/http/http2/codec_impl.cc),
except where Envoy sends one (HPACK errors, DATA on an idle stream, the RST_STREAM rate limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from itertools import chain
from typing import cast

from h2 import events as ev
from h2.errors import ErrorCodes
from h2.exceptions import H2Error, ProtocolError
from hpack.exceptions import HPACKError, OversizedHeaderListError
from hyperframe.frame import GoAwayFrame

from meshgate.gateway.context import GatewayContext
from meshgate.gateway.exchange import Exchange
from meshgate.gateway.h2 import limits, speedups
from meshgate.gateway.h2.heads import request_head
from meshgate.gateway.h2.stream import H2Stream
from meshgate.gateway.router import SNI_ATTRIBUTE

log = logging.getLogger("meshgate.gateway")
speedups.install()


class H2Protocol(asyncio.Protocol):
    """One HTTP/2 client connection and its streams."""

    def __init__(self, ctx: GatewayContext, peer: tuple[str, str, int]) -> None:
        self.ctx = ctx
        self.peer_ip, self.local_ip, self.local_port = peer
        self.peer_ip_bytes = self.peer_ip.encode()
        self.h2 = limits.server_connection()
        self.frames = cast(limits.GuardedFrames, self.h2.incoming_buffer)
        self.guard = limits.AbuseGuard()
        self.streams: dict[int, H2Stream] = {}
        self.transport: asyncio.Transport | None = None
        self.write_paused = self.closing = False
        self.corked = 0
        self.control_queued = 0
        self.held = b""  # frames h2 wrote while reading (PING/SETTINGS acks), sent after the answers
        self.last_stream: int | None = None  # set by drain(): streams above it are refused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.sni: str | None = getattr(transport.get_extra_info("ssl_object"), SNI_ATTRIBUTE, None)
        h2 = self.h2
        h2.initiate_connection()
        h2.clear_outbound_data_buffer()  # h2's SETTINGS: replaced by Envoy's, in Envoy's order
        h2.increment_flow_control_window(limits.CONNECTION_WINDOW - limits.DEFAULT_WINDOW)
        self.transport.write(limits.first_settings() + h2.data_to_send())
        self.ctx.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.ctx.connections.discard(self)
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            if stream.exchange is not None and not stream.exchange.finished:
                stream.reset = True
                stream.exchange.downstream_lost()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.corked += 1
        try:
            events = self.h2.receive_data(data)
            self.held += self.h2.data_to_send()  # h2's acks leave after the answers to this read
            self._dispatch(events)
        except ProtocolError as exc:
            self._protocol_error(exc)
        except H2Error as exc:
            self._protocol_error(exc)
        except Exception:
            log.exception("gateway failed on an HTTP/2 connection")
            self.abort()
        finally:
            self.uncork()

    def _protocol_error(self, exc: Exception) -> None:
        """Envoy closes without a GOAWAY, but for HPACK errors (GOAWAY COMPRESSION_ERROR, last stream the
        one being decoded) and DATA on an idle stream (h2's GOAWAY PROTOCOL_ERROR, last stream 0)."""
        pending = self.h2.data_to_send()
        goaway = b""
        if isinstance(exc.__cause__, HPACKError) and not isinstance(exc.__cause__, OversizedHeaderListError):
            goaway = GoAwayFrame(
                0, last_stream_id=self.frames.highest_headers, error_code=ErrorCodes.COMPRESSION_ERROR
            ).serialize()
        elif "idle" in str(exc).lower():
            goaway = pending
        if goaway and self.transport is not None:
            self.transport.write(goaway)
        self._drop()

    def _drop(self) -> None:
        """Close without writing what h2 still holds for the client."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    # events ----------------------------------------------------------------------------------------
    def _dispatch(self, events: list[ev.Event]) -> None:
        fresh: list[H2Stream] = []
        for event in events:
            if isinstance(event, ev.RequestReceived):
                stream = self._request(event)
                if stream is not None:
                    fresh.append(stream)
            elif isinstance(event, ev.DataReceived):
                self._data(event)
            elif isinstance(event, ev.StreamEnded):
                stream = self.streams.get(event.stream_id)
                if stream is not None and stream.exchange is not None:
                    stream.exchange.request_complete()
            elif isinstance(event, ev.StreamReset):
                if not self.guard.reset_received():
                    self._goaway(ErrorCodes.INTERNAL_ERROR, event.stream_id)
                    return
                self._reset(event.stream_id, fresh)
            elif isinstance(event, ev.WindowUpdated):
                self._window(event.stream_id)
            elif isinstance(event, (ev.PingReceived, ev.RemoteSettingsChanged)):
                self._control_frame()
            elif isinstance(event, ev.ConnectionTerminated):
                self.close()
                return
        for stream in fresh:  # begun once the whole read is seen: a stream reset in it is never answered
            if stream.exchange is not None:
                stream.exchange.begin()
                if stream.reset:
                    self._end_reset(stream)

    def _request(self, event: ev.RequestReceived) -> H2Stream | None:
        sid = event.stream_id
        if self.last_stream is not None and sid > self.last_stream:
            self.h2.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
            return None
        headers = event.headers or []
        size = sum(map(len, chain.from_iterable(headers)))  # names + values
        if len(headers) > limits.MAX_HEADERS_COUNT or size > limits.MAX_HEADERS_BYTES:
            self.h2.reset_stream(sid, ErrorCodes.INTERNAL_ERROR)
            return None
        head = request_head(headers, ended=event.stream_ended is not None)
        stream = H2Stream(self, sid)
        stream.exchange = Exchange(stream, head)
        self.streams[sid] = stream
        return stream

    def _data(self, event: ev.DataReceived) -> None:
        stream = self.streams.get(event.stream_id)
        size = event.flow_controlled_length
        if stream is None or stream.exchange is None or stream.reset:
            self.acknowledge(event.stream_id, size)
            return
        stream.exchange.request_body(event.data)
        stream.received(size)

    def _reset(self, sid: int, fresh: list[H2Stream]) -> None:
        stream = self.streams.get(sid)
        if stream is None:
            return
        stream.reset = True
        if stream not in fresh:
            self._end_reset(stream)

    def _end_reset(self, stream: H2Stream) -> None:
        """A stream the client reset: premature when its response had not started (CVE-2023-44487)."""
        exchange = stream.exchange
        premature = exchange is not None and not exchange.resp_started
        self.streams.pop(stream.stream_id, None)  # first: stream_done() must not count it again
        if exchange is not None and not exchange.finished:
            exchange.downstream_lost()
        if not self.guard.stream_closed(premature):
            self._drop()  # what h2 queued in this read (PING acks, answers) is not sent

    def _window(self, sid: int) -> None:
        targets = (
            list(self.streams.values()) if sid == 0 else [self.streams[sid]] if sid in self.streams else []
        )
        for stream in targets:
            if stream.outbox or stream.end_pending is not None:
                stream.pump()

    def _control_frame(self) -> None:
        """PING and SETTINGS are acknowledged: more than Envoy's max_outbound_control_frames queued (in one
        read, or while the client does not read) closes the connection."""
        self.control_queued += 1
        if self.control_queued > limits.MAX_OUTBOUND_CONTROL:
            self.abort()

    def _goaway(self, code: int, last_stream_id: int) -> None:
        self.h2.close_connection(code, last_stream_id=last_stream_id)
        self.flush()
        self.close()

    # what streams call -------------------------------------------------------------------------------
    def acknowledge(self, sid: int, size: int) -> None:
        if size and not self.closing:
            with contextlib.suppress(H2Error):
                self.h2.acknowledge_received_data(size, sid)
            self.flush()

    def stream_done(self, stream: H2Stream) -> None:
        stream.exchange = None  # the exchange points back at its stream: freed now, not by the cyclic GC
        if self.streams.pop(stream.stream_id, None) is not None:
            self.guard.stream_closed(False)
        if self.ctx.draining and not self.streams:
            self.close()

    def cork(self) -> None:
        self.corked += 1

    def uncork(self) -> None:
        self.corked -= 1
        if not self.corked:
            self.flush()

    def flush(self) -> None:
        if self.corked or self.closing or self.transport is None:
            return
        data = self.h2.data_to_send()
        if self.held:
            data, self.held = data + self.held, b""
        if data:
            self.transport.write(data)
        if not self.write_paused:
            self.control_queued = 0

    def pause_writing(self) -> None:
        self.write_paused = True
        for stream in self.streams.values():
            if stream.exchange is not None and stream.exchange.up is not None:
                stream.exchange.up.pause_reading(True)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.control_queued = 0
        for stream in self.streams.values():
            if stream.exchange is not None and stream.exchange.up is not None and not stream.upstream_paused:
                stream.exchange.up.pause_reading(False)

    def drain(self) -> None:
        """Draining: GOAWAY NO_ERROR naming the last stream taken, written beside h2 (whose own GOAWAY would
        stop the open streams too); newer streams are refused; closed once the open ones are answered."""
        if self.transport is None or self.closing or self.last_stream is not None:
            return
        self.last_stream = self.h2.highest_inbound_stream_id
        self.flush()
        self.transport.write(GoAwayFrame(0, last_stream_id=self.last_stream, error_code=0).serialize())
        if not self.streams:
            self.close()

    def close(self) -> None:
        """Close once what h2 has queued (a GOAWAY among it) is written, even inside a read."""
        if not self.closing and self.transport is not None:
            data = self.h2.data_to_send()
            if data:
                self.transport.write(data)
            self.closing = True
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closing = True
            self.transport.abort()
