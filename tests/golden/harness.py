"""Runs a golden case through a front and compares what the client (and the upstream) would see."""

from __future__ import annotations

import atexit
import http.client
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.golden.cases import GoldenCase

from meshgate.config.load import load_text
from meshgate.config.model import Workload
from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.engine import Engine

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


# --- `serve`: the same case over real sockets, through the gateway to a recording upstream --------------
_SERVE_FRONTS: dict[str, Any] = {}
_UPSTREAM: list[Any] = []


def _gateway_for(config: str) -> Any:
    """One gateway per distinct config, started on first use and kept for the session (daemon threads)."""
    from tests.support.servers import GatewayThread, Upstream

    from meshgate.gateway.serve import ServeOptions

    if not _UPSTREAM:
        _UPSTREAM.append(Upstream().start())
    if config not in _SERVE_FRONTS:
        directory = Path(tempfile.mkdtemp(prefix="meshgate-golden-"))
        atexit.register(shutil.rmtree, directory, True)  # the gateways live for the session: clean up after
        (directory / "config.yaml").write_text(config)
        opts = ServeOptions(
            config_paths=(str(directory / "config.yaml"),),
            listen="127.0.0.1:0",
            admin=None,
            upstream=_UPSTREAM[0].url,
            namespace=WORKLOAD.namespace,
            labels=dict(WORKLOAD.labels),
            access_log_format="off",
        )
        _SERVE_FRONTS[config] = GatewayThread(opts)
    return _SERVE_FRONTS[config]


def observe_serve(case: GoldenCase) -> Observed:
    """The case as a real HTTP request to `meshgate serve`; upstream edits read off the recording upstream.

    The client binds to the case's `source_ip` (any 127.0.0.0/8 address works on loopback), so the
    gateway sees it as the TCP peer exactly as Envoy would.
    """
    gateway = _gateway_for(case.config)
    upstream = _UPSTREAM[0]
    before = len(upstream.seen)
    conn = http.client.HTTPConnection(
        "127.0.0.1", gateway.port, timeout=10, source_address=(case.source_ip, 0)
    )
    try:
        conn.putrequest(case.method, case.path, skip_host=True, skip_accept_encoding=True)
        for name, value in case.request_headers:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read().decode()
        www = response.getheader("www-authenticate")
    finally:
        conn.close()
    if response.status != 200 or len(upstream.seen) == before:
        return Observed(response.status, body, www)
    seen = upstream.seen[-1]
    pinned = tuple(sorted((k.lower(), v) for k, v in seen.headers if k.lower() == "x-jwt-payload"))
    return Observed(200, "", www, seen.target, pinned)
