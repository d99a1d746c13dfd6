"""What a decision says for each expectable field, and how it differs from a case's expectations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from meshgate.engine.decision import Decision
from meshgate.policytest.model import Expectation

POLICY_ID = re.compile(r"^ns\[(?P<ns>.*)\]-policy\[(?P<name>.*)\]-rule\[(?P<rule>\d+)\]$")


def policy_name(policy_id: str | None) -> str | None:
    """`ns[default]-policy[require-jwt]-rule[0]` → `default/require-jwt` (Istio's RBAC policy id)."""
    if policy_id is None:
        return None
    match = POLICY_ID.match(policy_id)
    return f"{match['ns']}/{match['name']}" if match else policy_id


def upstream_headers(sent: Sequence[tuple[str, str]], decision: Decision) -> dict[str, str] | None:
    """The request's headers as the engine edits them for the upstream (remove, then set); None when
    the request is not forwarded. The gateway also adds x-forwarded-for, x-request-id... (not here)."""
    if decision.upstream is None:
        return None
    removed = set(decision.upstream.remove)
    out: dict[str, str] = {}
    for name, value in sent:
        lower = name.lower()
        if lower not in removed:
            out[lower] = f"{out[lower]},{value}" if lower in out else value
    for name, value in decision.upstream.set:
        out[name] = value
    return out


def actual(e: Expectation, decision: Decision, sent: Sequence[tuple[str, str]]) -> Any:
    trace = decision.trace
    if e.field == "status":
        return decision.status
    if e.field == "body":
        return decision.body
    if e.field == "allowed":
        return decision.allowed
    if e.field == "policy":
        return trace.authz.policy_id
    if e.field == "reason":
        return trace.authn.status if trace.authn.outcome == "failed" else None
    if e.field == "upstream_path":
        return decision.upstream.path if decision.upstream is not None else None
    if e.field == "headers":
        values = [v for n, v in decision.headers if n.lower() == e.key]
        return ",".join(values) if values else None
    forwarded = upstream_headers(sent, decision)
    return None if forwarded is None else forwarded.get(e.key)


def matches(e: Expectation, got: Any) -> bool:
    if e.field == "policy" and got is not None and e.value is not None:
        return bool(e.value == got or e.value == policy_name(got))
    return bool(e.value == got and type(e.value) is type(got))


def describe(e: Expectation, got: Any) -> str:
    """`status: expected 403, got 200` — one line naming what differed."""
    label = f"{e.field}[{e.key}]" if e.key else e.field
    return f"{label}: expected {_show(e, e.value)}, got {_show(e, got)}"


def _show(e: Expectation, value: Any) -> str:
    if value is None:
        return {
            "policy": "no policy",
            "reason": "no failing JWT check",
            "upstream_path": "not forwarded",
        }.get(e.field, "absent")
    if isinstance(value, bool):
        return "true" if value else "false"
    if e.field == "policy" and policy_name(value) != value:
        return f"{policy_name(value)} ({value})"
    return repr(value) if isinstance(value, str) else str(value)


def mismatches(
    expect: Sequence[Expectation], decision: Decision, sent: Sequence[tuple[str, str]]
) -> list[tuple[Expectation, str]]:
    out = []
    for e in expect:
        got = actual(e, decision, sent)
        if not matches(e, got):
            out.append((e, describe(e, got)))
    return out
