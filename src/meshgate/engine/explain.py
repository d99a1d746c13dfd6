"""A decision explained for people: the JSON of `meshgate check --json` and the admin page, and the text
of `meshgate check` and of a failing `meshgate test` case. Nothing here decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from meshgate.engine.decision import Decision
from meshgate.engine.status import reason_phrase
from meshgate.jose.keys import KeySet


class KeySetReport(Protocol):
    """How fetching one jwksUri went (keystore/oneshot.py FetchOutcome)."""

    @property
    def uri(self) -> str: ...
    @property
    def keyset(self) -> KeySet | None: ...
    @property
    def error(self) -> str: ...


def decision_to_json(decision: Decision, outcomes: Sequence[KeySetReport] = ()) -> dict[str, Any]:
    upstream = None
    if decision.upstream is not None:
        upstream = {
            "path": decision.upstream.path,
            "remove": list(decision.upstream.remove),
            "set": dict(decision.upstream.set),
        }
    authn, authz = decision.trace.authn, decision.trace.authz
    return {
        "status": decision.status,
        "body": decision.body,
        "headers": dict(decision.headers),
        "upstream": upstream,
        "trace": {
            "path": decision.trace.path,
            "authn": {
                "outcome": authn.outcome,
                "status": authn.status,
                "provider": authn.provider,
                "token_location": authn.token_location,
                "principal": authn.principal,
            },
            "authz": {
                "outcome": authz.outcome,
                "reason": authz.reason,
                "policy_id": authz.policy_id,
                "action": authz.action,
                "audit": list(authz.audit),
                "shadow": list(authz.shadow),
                "custom_provider": authz.custom_provider,
            },
            "jwks": [{"uri": o.uri, "ok": o.keyset is not None, "error": o.error} for o in outcomes],
        },
    }


def format_decision(decision: Decision, outcomes: Sequence[KeySetReport] = ()) -> str:
    verdict = "ALLOWED" if decision.allowed else "DENIED"
    lines = [f"{verdict}: {decision.status} {reason_phrase(decision.status)}".rstrip()]
    if not decision.allowed:
        lines.append(f"body: {decision.body}")
    for name, value in decision.headers:
        lines.append(f"header: {name}: {value}")
    if decision.upstream is not None:
        lines.append(f"upstream path: {decision.upstream.path}")
        lines.extend(f"upstream remove header: {name}" for name in decision.upstream.remove)
        lines.extend(f"upstream set header: {name}: {value}" for name, value in decision.upstream.set)
    authz = decision.trace.authz
    lines.append(f"trace: path {decision.trace.path}")
    lines.append(f"trace: authn {_describe_authn(decision)}")
    lines.append(f"trace: authz {authz.outcome}: {authz.reason}".rstrip(": "))
    lines.extend(f"trace: audit matched {pid}" for pid in authz.audit)
    lines.extend(f"trace: dry-run {entry}" for entry in authz.shadow)
    for o in outcomes:
        lines.append(f"trace: jwks {o.uri}: {'ok, kids ' + ','.join(o.keyset.kids) if o.keyset else o.error}")
    return "\n".join(lines) + "\n"


def _describe_authn(decision: Decision) -> str:
    a = decision.trace.authn
    parts = [a.outcome]
    if a.status and a.status != "OK":
        parts.append(f"({a.status})")
    if a.provider:
        parts.append(f"by {a.provider}")
    if a.token_location:
        parts.append(f"token from {a.token_location}")
    if a.principal:
        parts.append(f"principal {a.principal}")
    return " ".join(parts)
