"""Replayed parses: a chunk byte-identical to the previous one, read at a message boundary, parses the same.

llhttp is deterministic: from the same state (between messages of a keep-alive connection) the same bytes
produce the same callbacks. Clients repeat themselves on a connection (polling, load, retries of a static
request) and upstreams repeat a response within the second its `date` names, so each protocol remembers
its last chunk when that chunk held exactly one whole message read from a boundary, plus what parsing it
produced; when the next chunk is equal, the protocol replays those results instead of calling the parser
(an httptools callback per header line is most of a small message's parse cost).

Only the parse is skipped. The decision, the x-request-id, the date and service time, metrics and the
access log run as for any message. The conditions below keep a replay exact: one message, no trailing
partial message, keep-alive (after a final message llhttp refuses more bytes), no request body (its bytes
reach the exchange through callbacks), no upgrade, no HEAD response (its parser is replaced), no interim
or 101 response, at most one response body callback. tests/fronts/test_replay.py pins replayed exchanges
byte-equal to parsed ones, on both sides, and that each excluded shape is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgate.fronts.http_heads import RequestHead

REPLAY_MAX_BYTES = 8 * 1024  # longer chunks are not kept: memory per idle connection, comparison cost


@dataclass(frozen=True, slots=True)
class RequestRepeat:
    """A downstream chunk that held exactly `head`, a whole bodiless keep-alive request."""

    data: bytes
    head: RequestHead


def repeatable_request(data: bytes, head: RequestHead | None) -> RequestRepeat | None:
    """The repeat for a chunk whose parse completed exactly one request (`head`) and saw no body."""
    if head is None or head.reject is not None or not head.keep_alive or head.has_body:
        return None
    if head.upgrade is not None or head.expect_continue:
        return None
    return RequestRepeat(data, head)


class ResponseRecording:
    """What parsing one upstream chunk delivered, kept when it was one whole keep-alive response."""

    __slots__ = ("body", "data", "framing", "headers", "state", "status")

    BEGUN, HEAD, DONE, SPOILED = 1, 2, 3, 4

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.state = 0
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.framing = ""
        self.body: bytes | None = None

    def begun(self) -> None:
        self.state = self.BEGUN if self.state == 0 else self.SPOILED  # a second message in the chunk

    def head(self, status: int, headers: list[tuple[bytes, bytes]], framing: str, *, delivered: bool) -> None:
        if self.state != self.BEGUN or status < 200 or framing == "close" or not delivered:
            self.state = self.SPOILED  # interim/101 responses, a body delimited by the connection's end
            return
        self.state, self.status, self.headers, self.framing = self.HEAD, status, headers, framing

    def body_part(self, data: bytes) -> None:
        if self.body is not None or self.state != self.HEAD:
            self.state = self.SPOILED
        else:
            self.body = data

    def complete(self, keep_alive: bool) -> None:
        self.state = self.DONE if self.state == self.HEAD and keep_alive else self.SPOILED

    @property
    def replayable(self) -> bool:
        return self.state == self.DONE
