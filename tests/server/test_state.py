"""ServingState with the real Engine and a real JWKS server: the seam every front uses.

Before any successful fetch the URI is absent → 401 `Jwks remote fetch is failed` (docs/istio-semantics.md §3.6);
an unknown kid makes the front await one refetch and decide again (docs/architecture.md "A key rotation").
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tests.support.jwks_server import ISTIO_JWKS, JwksServer
from tests.support.samples import SAMPLES

from meshgate.config.model import Workload
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.options import EngineOptions
from meshgate.keystore.store import KeyStore
from meshgate.server.access_log import AccessLog
from meshgate.server.metrics import Metrics
from meshgate.server.reload import load_and_build
from meshgate.server.state import ServingState

DEMO_JWT = (SAMPLES / "demo.jwt").read_text().strip()
RA = """apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: default}}
spec:
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: {uri}
    timeout: 1s
"""
# The Istio sample key under another kid: a token naming the real kid finds no key until rotation.
OTHER_KID_JWKS = json.dumps({"keys": [dict(json.loads(ISTIO_JWKS)["keys"][0], kid="old-kid")]})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def request(token: str | None = DEMO_JWT) -> RequestAttributes:
    headers = {"authorization": (f"Bearer {token}",)} if token else {}
    return RequestAttributes("GET", "/headers", authority="httpbin", headers=headers)


def make_state(tmp_path: Path, uri: str, clock: Clock | None = None) -> ServingState:
    config = tmp_path / "ra.yaml"
    config.write_text(RA.format(uri=uri))
    built = load_and_build([str(config)], Workload(), EngineOptions())
    resources, engine = built.resources, built.engine
    keystore = KeyStore(engine.jwks_sources(), clock=clock or Clock(), backoff_base_s=0.02, backoff_max_s=0.1)
    return ServingState(
        engine, keystore, Metrics(), AccessLog(io.StringIO()), config_paths=[str(config)], resources=resources
    )


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_not_ready_and_fetch_failed_until_the_first_fetch(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        state = make_state(tmp_path, server.url())
        assert not state.ready
        d = state.decide_now(request(), time.time())
        assert (d.status, d.body) == (401, "Jwks remote fetch is failed")
        await state.keystore.start()
        await state.keystore.wait_first_attempts(5)
        assert state.ready
        d = state.decide_now(request(), time.time())
        assert d.allowed and d.status == 200
        await state.keystore.close()
        await server.stop()

    run(scenario)


def test_server_down_ready_after_first_attempt_but_tokens_get_fetch_failed(tmp_path: Path) -> None:
    async def scenario() -> None:
        state = make_state(tmp_path, JwksServer().url())
        await state.keystore.start()
        await state.keystore.wait_first_attempts(5)
        assert state.ready
        d = await state.decide(request())
        assert (d.status, d.body) == (401, "Jwks remote fetch is failed")
        assert state.decide_now(request(None), time.time()).status == 200  # no token: authn passes
        await state.keystore.close()

    run(scenario)


@pytest.mark.parametrize("rotate", [True, False], ids=["rotated-key-found", "still-unknown-kid"])
def test_unknown_kid_refetches_once_and_decides_again(tmp_path: Path, rotate: bool) -> None:
    async def scenario() -> None:
        server = JwksServer(document=OTHER_KID_JWKS)
        await server.start()
        clock = Clock()
        state = make_state(tmp_path, server.url(), clock)
        await state.keystore.start()
        await state.keystore.wait_first_attempts(5)
        first = state.decide_now(request(), time.time())
        assert first.status == 401 and first.refresh == (server.url(),)
        if rotate:
            server.document = ISTIO_JWKS
        hits = server.hits
        d = await state.decide(request())
        assert server.hits == hits + 1
        assert (d.status, d.allowed) == ((200, True) if rotate else (401, False))
        d = await state.decide(request())  # within min_refetch_interval_s: no second fetch
        assert server.hits == hits + 1
        await state.keystore.close()
        await server.stop()

    run(scenario)


def test_swap_replaces_the_engine_in_one_assignment(tmp_path: Path) -> None:
    state = make_state(tmp_path, "http://127.0.0.1:1/jwks.json")
    old = state.engine
    new = load_and_build(state.config_paths, Workload(), EngineOptions()).engine
    state.swap(new, None, state.config_paths)
    assert state.engine is new and state.engine is not old and state.resources is None


def test_metrics_are_bound_to_the_key_store(tmp_path: Path) -> None:
    state = make_state(tmp_path, "http://127.0.0.1:1/jwks.json")
    assert state.metrics.keystore is state.keystore
