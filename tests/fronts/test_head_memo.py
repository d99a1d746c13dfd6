"""The memoized heads (fronts/head_memo.py) and header facts are byte-identical to a fresh rendering.

Each case renders the same input twice through the memo (a miss, then a hit) and compares both to the
unmemoized function in http_heads.py, with the per-request value (x-request-id, service time) pinned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from meshgate.engine.decision import UpstreamEdits
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

# (name, header block, upgrade requested, the engine's edits)
REQUESTS: list[tuple[str, list[tuple[bytes, bytes]], bool, UpstreamEdits]] = [
    ("plain", [(b"Host", b"h"), (b"Authorization", b"Bearer t")], False,
     UpstreamEdits("/p", remove=("authorization",))),
    ("client-request-id", [(b"Host", b"h"), (b"X-Request-Id", b"rid-7")], False, UpstreamEdits("/p")),
    ("xff-and-claims", [(b"Host", b"h"), (b"X-Forwarded-For", b"1.1.1.1")], False,
     UpstreamEdits("/p?q", set=(("x-jwt-sub", "alice"),))),
    ("chunked-upgrade", [(b"Host", b"h"), (b"Connection", b"upgrade, x-a"), (b"X-A", b"1"),
                         (b"Upgrade", b"websocket"), (b"Transfer-Encoding", b"chunked")], True, UpstreamEdits("/ws")),
]  # fmt: skip


def _pinned(request_id: bytes) -> Callable[[], bytes]:
    return lambda: request_id


@pytest.mark.parametrize(
    ("headers", "upgrade", "edits"), [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS]
)
def test_upstream_head_equals_a_fresh_rendering(
    headers: list[tuple[bytes, bytes]], upgrade: bool, edits: UpstreamEdits
) -> None:
    memo = ConnectionMemo()
    sent = []
    for _ in range(3):
        req = memo.request_head(
            b"GET", b"/p", list(headers), keep_alive=True, upgrade_requested=upgrade, http_version="1.1"
        )
        sent.append(memo.upstream_head(req, edits, peer_ip=b"10.0.0.9", scheme=b"http"))
    for head, xff, request_id in sent:
        expected = upstream_request_head(
            b"GET", edits.path.encode(), headers, peer_ip=b"10.0.0.9", scheme=b"http", drop=edits.remove,
            set_headers=edits.set, chunked=req.chunked, upgrade=req.upgrade, listed=req.listed,
            new_id=_pinned(request_id),
        )  # fmt: skip
        assert (head, xff, request_id) == expected
    ids = [request_id for _, _, request_id in sent]
    if any(name.lower() == b"x-request-id" for name, _ in headers):
        assert ids == [b"rid-7"] * 3
    else:  # a new id per request, even when the head comes from the memo
        assert all(UUID4.fullmatch(i) for i in ids) and len(set(ids)) == 3


def test_upstream_head_follows_new_edits_and_peers() -> None:
    memo = ConnectionMemo()
    req = memo.request_head(
        b"GET", b"/", [(b"Host", b"h")], keep_alive=True, upgrade_requested=False, http_version="1.1"
    )
    first, _, _ = memo.upstream_head(req, UpstreamEdits("/a"), peer_ip=b"1.1.1.1", scheme=b"http")
    other_path, _, _ = memo.upstream_head(req, UpstreamEdits("/b"), peer_ip=b"1.1.1.1", scheme=b"http")
    other_peer, xff, _ = memo.upstream_head(req, UpstreamEdits("/b"), peer_ip=b"2.2.2.2", scheme=b"https")
    assert first.startswith(b"GET /a ") and other_path.startswith(b"GET /b ")
    assert xff == b"2.2.2.2" and b"x-forwarded-proto: https\r\n" in other_peer


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


def test_response_memo_stays_bounded() -> None:
    for i in range(head_memo.MEMO_MAX + 10):
        headers = [(b"Content-Length", b"2"), (b"X-N", str(i).encode())]
        response_head(
            200, headers, date_line=DATE, service_time_ms=1, chunked=False, close=False, upgrade=False
        )
    assert len(head_memo._RESPONSES) <= head_memo.MEMO_MAX


def test_request_head_reused_only_when_every_input_repeats() -> None:
    headers = [(b"Host", b"h"), (b"Upgrade", b"websocket"), (b"Connection", b"upgrade")]
    memo = ConnectionMemo()

    def head(
        target: bytes = b"/", *, upgrade: bool = False, version: str = "1.1", keep: bool = True
    ) -> RequestHead:
        return memo.request_head(
            b"GET", target, list(headers), keep_alive=keep, upgrade_requested=upgrade, http_version=version
        )

    plain = head()
    assert head() is plain  # a repeated request: the same (immutable) head
    assert plain.upgrade is None and plain.reject is None
    other_target = head(b"/x")
    assert other_target is not plain and other_target.attr_headers is plain.attr_headers  # facts reused
    upgrading = head(b"/x", upgrade=True)
    assert upgrading.upgrade == b"websocket" and upgrading.reject is None
    old = head(b"/x", version="1.0")
    assert old.reject is not None and old.reject[0] == 426
    assert head(b"/x", version="1.0", keep=False).keep_alive is False
    assert plain.attr_headers == head_facts(headers)[0]
    fresh = memo.request_head(
        b"GET", b"/x", [(b"Host", b"other")], keep_alive=True, upgrade_requested=False, http_version="1.1"
    )
    assert fresh.host == "other"


def test_attributes_are_kept_per_connection_facts() -> None:
    req = RequestHead(b"GET", b"/p", [(b"Host", b"h")])
    attrs = req.attributes("http", "10.0.0.1", "10.0.0.2", 80)
    assert req.attributes("http", "10.0.0.1", "10.0.0.2", 80) is attrs
    other = req.attributes("https", "10.0.0.1", "10.0.0.2", 443)
    assert other.scheme == "https" and other.local_port == 443 and other.path == "/p"


def test_a_decision_is_kept_for_its_head_engine_keys_and_second() -> None:
    from meshgate.engine.decision import AuthnTrace, AuthzTrace, Decision, Trace

    memo = ConnectionMemo()
    head = memo.request_head(
        b"GET", b"/", [(b"Host", b"h")], keep_alive=True, upgrade_requested=False, http_version="1.1"
    )
    other_head = RequestHead(b"GET", b"/", [(b"Host", b"h")])
    engine, keys = object(), object()
    decision = Decision(
        True, 200, "", (), UpstreamEdits("/"), Trace(AuthnTrace("no rules"), AuthzTrace("allowed"))
    )
    assert memo.decision(head, engine, keys, 100.5) is None
    memo.keep_decision(head, engine, keys, 100.5, decision)
    assert memo.decision(head, engine, keys, 100.0) is decision
    assert memo.decision(head, engine, keys, 100.999) is decision
    assert memo.decision(head, engine, keys, 101.0) is None  # a new second: ask the engine again
    assert memo.decision(other_head, engine, keys, 100.5) is None  # another head (even an equal one)
    assert memo.decision(head, object(), keys, 100.5) is None  # a reloaded configuration
    assert memo.decision(head, engine, object(), 100.5) is None  # a new key snapshot
