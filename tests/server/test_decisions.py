"""The decisions ring: bounded, and its words — reasons from the engine's trace, tokens blanked in paths."""

from __future__ import annotations

import pytest
from tests.support.samples import SAMPLES

from meshgate.authn.result import AuthnTrace
from meshgate.authz.result import AuthzTrace
from meshgate.engine.decision import Decision, Trace, UpstreamEdits
from meshgate.server.decisions import DecisionRing, policy_words, reason_words, redact

DEMO_JWT = (SAMPLES / "demo.jwt").read_text().strip()
PID = "ns[default]-policy[require-jwt]-rule[0]"


def _decision(authn: AuthnTrace, authz: AuthzTrace, allowed: bool = False, status: int = 403) -> Decision:
    upstream = UpstreamEdits("/") if allowed else None
    return Decision(allowed, status, "", (), upstream, Trace(authn, authz, "/"))


REASONS = [
    ("failing JWT check", _decision(AuthnTrace("failed", "Jwt is expired"), AuthzTrace("denied")), 401,
     "JWT rejected: Jwt is expired"),
    ("ALLOW policy matched", _decision(AuthnTrace("verified", principal="i/s"),
     AuthzTrace("allowed", f"allowed by ALLOW policy {PID}", PID, "ALLOW"), True, 200), 200,
     "allowed by ALLOW policy default/require-jwt, rule 0 (token of i/s)"),
    ("no ALLOW matched, no token", _decision(AuthnTrace("no token"), AuthzTrace("denied", "no ALLOW policy matched")),
     403, "no ALLOW policy matched (no token)"),
    ("allowed, the upstream failed", _decision(AuthnTrace("no rules"),
     AuthzTrace("allowed", "no ALLOW policy applies: allowed"), True, 200), 503,
     "no ALLOW policy applies: allowed (no rules); the upstream side answered 503"),
    ("no decision (malformed request)", None, 400,
     "refused before any policy ran (the request could not be read: 400)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("decision", "status", "words"), [r[1:] for r in REASONS], ids=[r[0] for r in REASONS]
)
def test_reason_words(decision: Decision | None, status: int, words: str) -> None:
    assert reason_words(decision, status) == words


REDACTIONS = [
    ("/orders?x=1", "/orders?x=1"),
    (f"/q?access_token={DEMO_JWT}&x=1", "/q?access_token=[token]&x=1"),
    ("/q?access_token=opaque&x=1", "/q?access_token=[token]&x=1"),
    (f"/t/{DEMO_JWT}/x", "/t/[token]/x"),
    ("/www.example.com/a.b.c", "/www.example.com/a.b.c"),
]


@pytest.mark.parametrize(("path", "shown"), REDACTIONS)
def test_tokens_are_blanked_in_paths(path: str, shown: str) -> None:
    assert redact(path) == shown


def test_policy_ids_in_words() -> None:
    assert policy_words(f"denied by DENY policy {PID}") == "denied by DENY policy default/require-jwt, rule 0"


def test_the_ring_keeps_the_last_200() -> None:
    ring = DecisionRing()
    for i in range(250):
        ring.append((float(i), "gateway", "GET", f"/{i}", 200, None))
    assert len(ring) == 200 and ring[0][3] == "/50" and ring[-1][3] == "/249"
