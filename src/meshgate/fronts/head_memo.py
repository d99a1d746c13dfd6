"""Memoized proxy heads: a header block seen before is re-rendered with a lookup, not a header walk.

Clients and upstreams repeat themselves: a keep-alive client sends the same headers on every request of
its connection, an upstream the same response head (its `date` changes once a second). The renderings in
http_heads.py are pure functions of their inputs but for one per-request value each — the generated
x-request-id upstream, the x-envoy-upstream-service-time downstream — so the memo keeps the rendered
bytes split around that value.

Request heads are remembered per connection (`ConnectionMemo`: the last block only). Request blocks carry
tokens, so under per-request tokens a shared memo would only churn; one slot per connection costs a
comparison on a miss and holds nothing beyond the connection's life. Response heads carry no credentials
and repeat across connections: one process-wide memo, cleared (never grown) when full.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshgate.fronts.http_heads import (
    UPSTREAM_SERVICE_TIME,
    Headers,
    HeadFacts,
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
    """One downstream connection's last request header block: its facts and its upstream rendering."""

    __slots__ = ("facts", "facts_key", "upstream", "upstream_key")

    def __init__(self) -> None:
        self.facts_key: tuple[tuple[bytes, bytes], ...] | None = None
        self.facts: HeadFacts | None = None
        self.upstream_key: tuple[object, ...] | None = None
        self.upstream: _UpstreamHead | None = None

    def head_facts(self, headers: Headers) -> HeadFacts:
        key = tuple(headers)
        if key == self.facts_key and self.facts is not None:
            return self.facts
        facts = head_facts(headers)
        self.facts_key, self.facts = key, facts
        return facts

    def upstream_head(
        self,
        method: bytes,
        target: bytes,
        headers: Headers,
        *,
        peer_ip: bytes,
        scheme: bytes,
        drop: tuple[str, ...],
        set_headers: tuple[tuple[str, str], ...],
        chunked: bool,
        upgrade: bytes | None,
        listed: frozenset[bytes],
    ) -> tuple[bytes, bytes, bytes]:
        """upstream_request_head's (head, x-forwarded-for, x-request-id), a fresh id when one is generated."""
        key = (method, target, tuple(headers), peer_ip, scheme, drop, set_headers, chunked, upgrade, listed)
        hit = self.upstream if key == self.upstream_key else None
        if hit is None:
            head, xff, request_id = upstream_request_head(
                method, target, headers, peer_ip=peer_ip, scheme=scheme, drop=drop, set_headers=set_headers,
                chunked=chunked, upgrade=upgrade, listed=listed, new_id=_id_mark,
            )  # fmt: skip
            if request_id == _ID_MARK:
                head_start, _, head_end = head.partition(_ID_MARK)
                hit = (head_start, head_end, xff, b"")
            else:
                hit = (head, None, xff, request_id)
            self.upstream_key, self.upstream = key, hit
        before, after, xff, sent_id = hit
        if after is None:
            return before, xff, sent_id
        fresh_id = new_request_id()
        return before + fresh_id + after, xff, fresh_id


def response_head(
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    *,
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
