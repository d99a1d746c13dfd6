"""The last decisions, for the admin page: a bounded ring the fronts append to, read when a page renders.

The fronts add one tuple per finished request (`(start, front, method, path, status, decision)`, the order
of `Recent`) with `deque.append` — no formatting and no record built on the request path; the page reads
them back as `Recent` records, puts reasons into words and blanks anything shaped like a token. The token
itself is never stored apart from the path.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from meshgate.engine.decision import Decision

RING_SIZE = 200
Entry = tuple[float, str, str, str, int, Decision | None]  # what a front appends: Recent's fields, in order


class Recent(NamedTuple):
    """One finished request as the admin page shows it."""

    start: float  # epoch seconds
    front: str  # "gateway" or "ext_authz"
    method: str
    path: str  # as received
    status: int
    decision: Decision | None  # None: refused before any policy ran


POLICY_ID = re.compile(r"ns\[(?P<ns>[^\]]*)\]-policy\[(?P<name>[^\]]*)\]-rule\[(?P<rule>\d+)\]")
# Three base64url runs joined by dots: a compact JWS/JWT (RFC 7515 §7.1), however it got into the text.
JWT_SHAPED = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
TOKEN_MARK = "[token]"


class DecisionRing(deque[Entry]):
    """`append` is deque's own (O(1), the oldest drops out past `maxlen`)."""

    def __init__(self, size: int = RING_SIZE) -> None:
        super().__init__(maxlen=size)

    def records(self) -> Iterator[Recent]:
        """Every request kept, oldest first, as records."""
        return map(Recent._make, list(self))

    def newest_first(self, limit: int | None = None) -> Iterator[Recent]:
        """The last `limit` requests (every one kept by default), newest first, as records."""
        entries = list(self)
        return map(Recent._make, reversed(entries if limit is None else entries[-limit:]))


def policy_words(text: str) -> str:
    """`ns[default]-policy[require-jwt]-rule[0]` → `default/require-jwt, rule 0`, wherever it appears."""
    return POLICY_ID.sub(lambda m: f"{m['ns']}/{m['name']}, rule {m['rule']}", text)


def reason_words(decision: Decision | None, status: int) -> str:
    """Why this answer, in a sentence: the failing JWT check, or the policy and rule that decided."""
    if decision is None:
        return f"refused before any policy ran (the request could not be read: {status})"
    authn, authz = decision.trace.authn, decision.trace.authz
    if authn.outcome == "failed":
        return f"JWT rejected: {authn.status}"
    if authz.outcome == "not evaluated":
        return authz.reason or "not evaluated"
    who = {"verified": f"token of {authn.principal}", "no token": "no token"}.get(
        authn.outcome, authn.outcome
    )
    words = f"{policy_words(authz.reason)} ({who})" if authz.reason else who
    if decision.allowed and status >= 500:
        words += f"; the upstream side answered {status}"
    return words


def redact(text: str, params: Iterable[str] = ("access_token",)) -> str:
    """Blank tokens: JWT-shaped runs anywhere, and the values of token query parameters."""
    text = JWT_SHAPED.sub(TOKEN_MARK, text)
    path, sep, query = text.partition("?")
    if not sep:
        return text
    names = set(params)
    pairs = []
    for pair in query.split("&"):
        name, eq, _ = pair.partition("=")
        pairs.append(f"{name}={TOKEN_MARK}" if eq and name in names else pair)
    return f"{path}?{'&'.join(pairs)}"
