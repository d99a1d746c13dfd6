"""`meshgate check`: decide one request offline through the same engine, and explain the decision."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, TextIO

from meshgate.config.load import load_resources
from meshgate.config.model import Workload
from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.decision import Decision
from meshgate.engine.engine import Engine
from meshgate.engine.options import EngineOptions, PathNormalization
from meshgate.errors import UsageError
from meshgate.gateway.local_reply import reason_phrase
from meshgate.keystore.oneshot import FetchOutcome, fetch_all

EXIT_ALLOWED = 0
EXIT_DENIED = 1


def parse_header_flag(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise UsageError(f"--header: expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def build_attributes(args: argparse.Namespace) -> RequestAttributes:
    pairs = [parse_header_flag(h) for h in args.header]
    if args.token:
        pairs.append(("authorization", f"Bearer {args.token}"))
    pairs.insert(0, ("host", args.host))
    return RequestAttributes(
        method=args.method,
        path=args.path,
        authority=args.host,
        scheme=args.scheme,
        headers=build_headers(pairs),
        peer_ip=args.source_ip,
        local_port=args.port,
    )


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    from meshgate.cli.main import parse_labels

    resources = load_resources(args.config)
    workload = Workload(args.namespace, parse_labels(args.labels), args.root_namespace)
    options = EngineOptions(
        trusted_proxies=args.trusted_proxies,
        path_normalization=PathNormalization(args.path_normalization),
    )
    engine = Engine.for_workload(resources, workload, options)
    outcomes = fetch_all((s.uri, s.timeout_s) for s in engine.jwks_sources())
    keys = {o.uri: o.keyset for o in outcomes if o.keyset is not None}
    decision = engine.decide(build_attributes(args), keys, time.time())
    if args.json:
        json.dump(decision_to_json(decision, outcomes), out, indent=2)
        out.write("\n")
    else:
        out.write(format_decision(decision, outcomes))
    return EXIT_ALLOWED if decision.allowed else EXIT_DENIED


def decision_to_json(decision: Decision, outcomes: list[FetchOutcome] | None = None) -> dict[str, Any]:
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
            "jwks": [{"uri": o.uri, "ok": o.keyset is not None, "error": o.error} for o in outcomes or []],
        },
    }


def format_decision(decision: Decision, outcomes: list[FetchOutcome] | None = None) -> str:
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
    for o in outcomes or []:
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
