"""Memoized proxy heads: a header block seen before is re-rendered with a lookup, not a header walk.

Clients and upstreams repeat themselves: a keep-alive client sends the same headers on every request of
its connection, an upstream the same response head (its `date` changes once a second). The renderings in
http_heads.py are pure functions of their inputs but for one per-request value each — the generated
x-request-id upstream, the x-envoy-upstream-service-time downstream — so the memo keeps the rendered
bytes split around that value.

The connection's last decision is remembered too: `Engine.decide` reads the clock only through the
whole second (every validity bound is an integer second: tests/engine/test_decision_memo.py), so the same
head object, with the same engine and key snapshot objects, within the same second, gets the same Decision.

Request heads are remembered per connection (`ConnectionMemo`: the last block only). Request blocks carry
tokens, so under per-request tokens a shared memo would only churn; one slot per connection costs a
comparison on a miss and holds nothing beyond the connection's life. Response heads repeat across
connections: one process-wide memo keyed by the whole upstream head (a hit can only reproduce the bytes that
upstream head renders to), cleared (never grown) when full.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshgate.engine.decision import Decision, UpstreamEdits
from meshgate.fronts.http_heads import (
    UPSTREAM_SERVICE_TIME,
    HeadFacts,
    RequestHead,
    downstream_response_head,
    head_facts,
    listed_by_connection,
    new_request_id,
    upstream_request_head,
)

MEMO_MAX = 512
# A NUL byte never survives llhttp in a header, so this placeholder cannot collide with request bytes.
_ID_MARK = b"\x00meshgate-request-id\x00"
_SERVICE_TIME_LINE = UPSTREAM_SERVICE_TIME + b"0\r\n"

_RESPONSES: dict[tuple[object, ...], tuple[bytes, bytes]] = {}
_UpstreamHead = tuple[bytes, "bytes | None", bytes, bytes]  # head (or its start), its end, xff, request id


def _id_mark() -> bytes:
    return _ID_MARK


class ConnectionMemo:
    """One downstream connection's last request: its parsed head and its upstream rendering."""

    __slots__ = ("block", "decided", "decided_for", "facts", "head", "head_flags", "upstream", "upstream_for")

    def __init__(self) -> None:
        self.block: tuple[tuple[bytes, bytes], ...] | None = None
        self.facts: HeadFacts | None = None
        self.head: RequestHead | None = None
        self.head_flags: tuple[bool, bool, str] = (True, False, "1.1")
        self.upstream_for: tuple[RequestHead, UpstreamEdits, bytes, bytes] | None = None
        self.upstream: _UpstreamHead | None = None
        self.decided_for: tuple[RequestHead, object, object, int] | None = None
        self.decided: Decision | None = None

    def decision(self, req: RequestHead, engine: object, keys: object, now: float) -> Decision | None:
        """The decision kept for this very head, engine and key snapshot in this second; else None."""
        made_for = self.decided_for
        if (
            made_for is not None
            and made_for[0] is req
            and made_for[1] is engine
            and made_for[2] is keys
            and made_for[3] == int(now)
        ):
            return self.decided
        return None

    def keep_decision(
        self, req: RequestHead, engine: object, keys: object, now: float, decision: Decision
    ) -> None:
        """Remember `decision` (final: no key refetch, no CUSTOM provider to ask) for this second."""
        self.decided_for, self.decided = (req, engine, keys, int(now)), decision

    def request_head(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        *,
        keep_alive: bool,
        upgrade_requested: bool,
        http_version: str,
    ) -> RequestHead:
        """RequestHead(...) for this request; the previous one again when every input is the same."""
        block = tuple(headers)
        flags = (keep_alive, upgrade_requested, http_version)
        head = self.head
        if block == self.block and self.facts is not None:
            if (
                head is not None
                and head.target == target
                and head.method == method
                and flags == self.head_flags
            ):
                return head
            facts = self.facts
        else:
            facts = head_facts(headers)
            self.block, self.facts = block, facts
        head = RequestHead(
            method, target, headers, keep_alive=keep_alive, upgrade_requested=upgrade_requested,
            http_version=http_version, facts=facts,
        )  # fmt: skip
        self.head, self.head_flags = head, flags
        return head

    def upstream_head(
        self, req: RequestHead, edits: UpstreamEdits, *, peer_ip: bytes, scheme: bytes
    ) -> tuple[bytes, bytes, bytes]:
        """upstream_request_head's (head, x-forwarded-for, x-request-id), a fresh id when one is generated.

        The same head object with the same edits object renders the same bytes: both are immutable.
        """
        hit = self.upstream
        made_for = self.upstream_for
        if (
            hit is None
            or made_for is None
            or made_for[0] is not req
            or made_for[1] is not edits
            or made_for[2] != peer_ip
            or made_for[3] != scheme
        ):
            head, xff, request_id = upstream_request_head(
                req.method, edits.path.encode("latin-1"), req.raw_headers, peer_ip=peer_ip, scheme=scheme,
                drop=edits.remove, set_headers=edits.set, chunked=req.chunked, upgrade=req.upgrade,
                listed=req.listed, new_id=_id_mark,
            )  # fmt: skip
            if request_id == _ID_MARK:
                head_start, _, head_end = head.partition(_ID_MARK)
                hit = (head_start, head_end, xff, b"")
            else:
                hit = (head, None, xff, request_id)
            self.upstream_for, self.upstream = (req, edits, peer_ip, scheme), hit
        before, after, xff, sent_id = hit
        if after is None:
            return before, xff, sent_id
        fresh_id = new_request_id()
        return before + fresh_id + after, xff, fresh_id


def response_head(
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    date_line: bytes,
    service_time_ms: int,
    chunked: bool,
    close: bool,
    upgrade: bool,
) -> bytes:
    """downstream_response_head for a proxied response (the Connection listing is derived on a miss)."""
    key = (status, tuple(headers), date_line, chunked, close, upgrade)
    hit = _RESPONSES.get(key)
    if hit is None:
        head = downstream_response_head(
            status, headers, date_line=date_line, service_time_ms=0, chunked=chunked, close=close,
            upgrade=upgrade, listed=listed_by_connection(headers),
        )  # fmt: skip
        before, _, after = head.rpartition(_SERVICE_TIME_LINE)  # ours follows every upstream header
        hit = (before + UPSTREAM_SERVICE_TIME, b"\r\n" + after)
        if len(_RESPONSES) >= MEMO_MAX:
            _RESPONSES.clear()
        _RESPONSES[key] = hit
    return b"%b%d%b" % (hit[0], service_time_ms, hit[1])
