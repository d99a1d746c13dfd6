"""`meshgate check`: decide one request offline through the same engine, and explain the decision; when
Gateways select the workload, the whole walk through the ingress (cli/check_walk.py)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

from meshgate.cli.check_walk import walk
from meshgate.cli.options import add_workload_flags, parse_labels
from meshgate.config.load import load_resources
from meshgate.config.model import Workload
from meshgate.engine.attributes import RequestAttributes, build_headers, parse_header_line
from meshgate.engine.engine import Engine
from meshgate.engine.explain import decision_to_json, format_decision
from meshgate.engine.options import EngineOptions, PathNormalization
from meshgate.errors import EXIT_FAILED, EXIT_OK
from meshgate.keystore.oneshot import fetch_all
from meshgate.server.ingress import build_ingress
from meshgate.server.reload import all_sources

HELP = "decide one request offline and explain why"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workload_flags(p)
    p.add_argument("--method", default="GET")
    p.add_argument("--host", default="localhost")
    p.add_argument("--path", default="/")
    p.add_argument("--scheme", default="http", choices=["http", "https"])
    p.add_argument("--port", type=int, default=8080, help="the port the request arrives on (Istio `ports`)")
    p.add_argument("--header", action="append", default=[], metavar="'K: V'")
    p.add_argument("--token", help="JWT sent as `Authorization: Bearer <token>`")
    p.add_argument("--source-ip", default="127.0.0.1")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    return run_check(args, sys.stdout)


def build_attributes(args: argparse.Namespace) -> RequestAttributes:
    pairs = [parse_header_line(h) for h in args.header]
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
    resources = load_resources(args.config)
    workload = Workload(args.namespace, parse_labels(args.labels), args.root_namespace)
    options = EngineOptions(
        trusted_proxies=args.trusted_proxies,
        path_normalization=PathNormalization(args.path_normalization),
    )
    engine = Engine.for_workload(resources, workload, options)
    ingress = build_ingress(resources, workload, options, engine.authenticator.verified_tokens)
    outcomes = fetch_all((s.uri, s.timeout_s) for s in all_sources(engine, ingress))
    keys = {o.uri: o.keyset for o in outcomes if o.keyset is not None}
    if ingress is not None:  # Gateways select the workload: the walk through the ingress
        return walk(
            build_attributes(args), engine, ingress, keys, time.time(), list(outcomes), out, args.json
        )
    decision = engine.decide(build_attributes(args), keys, time.time())
    if args.json:
        json.dump(decision_to_json(decision, outcomes), out, indent=2)
        out.write("\n")
    else:
        out.write(format_decision(decision, outcomes))
    return EXIT_OK if decision.allowed else EXIT_FAILED
