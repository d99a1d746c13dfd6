"""The memoized heads (fronts/head_memo.py) and header facts are byte-identical to a fresh rendering.

Each case renders the same input twice through the memo (a miss, then a hit) and compares both to the
unmemoized function in http_heads.py, with the per-request value (x-request-id, service time) pinned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from meshgate.fronts import head_memo
from meshgate.fronts.head_memo import ConnectionMemo, response_head
from meshgate.fronts.http_heads import (
    RequestHead,
    downstream_response_head,
    head_facts,
    upstream_request_head,
)

UUID4 = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
DATE = b"date: Sun, 29 Nov 2026 09:05:00 GMT\r\n"

REQUESTS: list[tuple[str, list[tuple[bytes, bytes]], dict[str, Any]]] = [
    ("plain", [(b"Host", b"h"), (b"Authorization", b"Bearer t")], dict(drop=("authorization",))),
    ("client-request-id", [(b"Host", b"h"), (b"X-Request-Id", b"rid-7")], {}),
    ("xff-and-claims", [(b"Host", b"h"), (b"X-Forwarded-For", b"1.1.1.1")],
     dict(set_headers=(("x-jwt-sub", "alice"),))),
    ("chunked-upgrade", [(b"Host", b"h"), (b"Connection", b"upgrade, x-a"), (b"X-A", b"1")],
     dict(chunked=True, upgrade=b"websocket", listed=frozenset({b"x-a"}))),
]  # fmt: skip


def _pinned(request_id: bytes) -> Callable[[], bytes]:
    return lambda: request_id


def _memo_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = dict(drop=(), set_headers=(), chunked=False, upgrade=None, listed=frozenset())
    return base | kwargs


@pytest.mark.parametrize(("headers", "kwargs"), [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS])
def test_upstream_head_equals_a_fresh_rendering(
    headers: list[tuple[bytes, bytes]], kwargs: dict[str, Any]
) -> None:
    args = _memo_args(kwargs)
    memo = ConnectionMemo()
    sent = [
        memo.upstream_head(b"GET", b"/p", headers, peer_ip=b"10.0.0.9", scheme=b"http", **args)
        for _ in range(3)
    ]
    for head, xff, request_id in sent:
        expected = upstream_request_head(
            b"GET",
            b"/p",
            headers,
            peer_ip=b"10.0.0.9",
            scheme=b"http",
            new_id=_pinned(request_id),
            **args,
        )
        assert (head, xff, request_id) == expected
    ids = [request_id for _, _, request_id in sent]
    if any(name.lower() == b"x-request-id" for name, _ in headers):
        assert ids == [b"rid-7"] * 3
    else:  # a new id per request, even when the head comes from the memo
        assert all(UUID4.fullmatch(i) for i in ids) and len(set(ids)) == 3


@pytest.mark.parametrize(
    ("headers", "kwargs"),
    [
        ([(b"Server", b"nginx"), (b"Content-Length", b"2")], {}),
        ([(b"Date", b"Mon, 30 Nov 2026 00:00:00 GMT"), (b"Connection", b"keep-alive, x-hop"), (b"X-Hop", b"1")],
         dict(close=True)),
        # an upstream Envoy's own service-time header stays, ours follows every upstream header
        ([(b"x-envoy-upstream-service-time", b"0"), (b"Transfer-Encoding", b"chunked")], dict(chunked=True)),
        ([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")], dict(upgrade=True)),
    ],
)  # fmt: skip
def test_response_head_equals_a_fresh_rendering(
    headers: list[tuple[bytes, bytes]], kwargs: dict[str, Any]
) -> None:
    args: dict[str, Any] = dict(chunked=False, close=False, upgrade=False) | kwargs
    for service_ms in (0, 7, 1234, 0):
        expected = downstream_response_head(200, headers, date_line=DATE, service_time_ms=service_ms, **args)
        assert response_head(200, headers, date_line=DATE, service_time_ms=service_ms, **args) == expected


def test_response_memo_stays_bounded_and_a_connection_keeps_one_block() -> None:
    memo = ConnectionMemo()
    for i in range(head_memo.MEMO_MAX + 10):
        headers = [(b"Host", b"h"), (b"X-N", str(i).encode())]
        memo.upstream_head(b"GET", b"/", headers, peer_ip=b"1.2.3.4", scheme=b"http", **_memo_args({}))
        memo.head_facts(headers)
        response_head(
            200, headers, date_line=DATE, service_time_ms=1, chunked=False, close=False, upgrade=False
        )
    assert len(head_memo._RESPONSES) <= head_memo.MEMO_MAX
    last = ((b"Host", b"h"), (b"X-N", str(head_memo.MEMO_MAX + 9).encode()))
    assert memo.facts_key == last and memo.upstream_key is not None and memo.upstream_key[2] == last


def test_request_head_facts_shared_but_per_request_flags_are_not() -> None:
    headers = [(b"Host", b"h"), (b"Upgrade", b"websocket"), (b"Connection", b"upgrade")]
    memo = ConnectionMemo()
    facts = memo.head_facts(list(headers))
    assert memo.head_facts(list(headers)) is facts  # one parse of a repeated block
    assert facts == head_facts(headers)
    plain = RequestHead(b"GET", b"/", list(headers), facts=facts)
    upgrading = RequestHead(b"GET", b"/", list(headers), upgrade_requested=True, facts=facts)
    assert plain.upgrade is None and plain.reject is None
    assert upgrading.upgrade == b"websocket" and upgrading.reject is None
    old = RequestHead(b"GET", b"/", list(headers), http_version="1.0", facts=facts)
    assert old.reject is not None and old.reject[0] == 426
    other = memo.head_facts([(b"Host", b"other")])
    assert other is not facts and other[1] == "other"
