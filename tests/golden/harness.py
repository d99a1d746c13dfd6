"""Runs a golden case through a front and compares what the client (and the upstream) would see."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.golden.cases import GoldenCase

from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.engine import Engine
from meshgate.resources.load import load_text
from meshgate.resources.model import Workload

WORKLOAD = Workload(namespace="istio-system", labels={"istio": "ingressgateway"})


@dataclass(frozen=True)
class Observed:
    """What a client saw: status, body, `www-authenticate`; and what the upstream got when allowed."""

    status: int
    body: str
    www_authenticate: str | None
    upstream_path: str | None = None
    upstream_set: tuple[tuple[str, str], ...] = ()


def expected(case: GoldenCase) -> Observed:
    return Observed(
        case.status,
        case.body,
        case.www_authenticate,
        case.upstream_path,
        tuple(sorted(case.upstream_set.items())),
    )


def engine_for(case: GoldenCase) -> Engine:
    result = load_text(case.config, f"<{case.name}>")
    assert result.ok, [str(p) for p in result.problems]
    return Engine.for_workload(result.resources, WORKLOAD)


def attributes_for(case: GoldenCase) -> RequestAttributes:
    return RequestAttributes(
        method=case.method,
        path=case.path,
        authority=case.host,
        headers=build_headers(case.request_headers),
        peer_ip=case.source_ip,
    )


def observe_engine(case: GoldenCase) -> Observed:
    decision = engine_for(case).decide(attributes_for(case), {}, time.time())
    www = dict(decision.headers).get("www-authenticate")
    if decision.upstream is None:
        return Observed(decision.status, decision.body, www)
    # Only the headers the case pins are compared; the payload header is the one every front must set.
    pinned = {name for name, _ in decision.upstream.set} & {"x-jwt-payload"}
    upstream_set = tuple(sorted((n, v) for n, v in decision.upstream.set if n in pinned))
    return Observed(decision.status, decision.body, www, decision.upstream.path, upstream_set)
