"""Config reload: valid → swapped atomically; invalid → rejected with file:line, old config keeps serving;
a Kubernetes ConfigMap `..data` symlink swap is detected (docs/architecture.md "A reload")."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.jwks_server import ISTIO_KID, JwksServer
from tests.support.samples import SAMPLES

from meshgate.config.model import Workload
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.options import EngineOptions
from meshgate.keystore.store import KeyStore
from meshgate.server.access_log import AccessLog
from meshgate.server.metrics import Metrics
from meshgate.server.reload import ConfigReloader, load_and_build
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
EMPTY = "# no resources yet\n"
NOWHERE = "http://127.0.0.1:1/jwks.json"
INVALID = RA.format(uri=NOWHERE).replace("timeout: 1s\n", "timeout: 1s\n    bogus: 1\n")
TOKEN = RequestAttributes("GET", "/", authority="h", headers={"authorization": (f"Bearer {DEMO_JWT}",)})


def make_state(paths: list[str]) -> ServingState:
    built = load_and_build(paths, Workload(), EngineOptions())
    resources, engine = built.resources, built.engine
    keystore = KeyStore(engine.jwks_sources(), backoff_base_s=0.02, backoff_max_s=0.1)
    return ServingState(
        engine, keystore, Metrics(), AccessLog(io.StringIO()), config_paths=paths, resources=resources
    )


def reloads(state: ServingState, result: str) -> str:
    return f'meshgate_config_reload_total{{result="{result}"}}'


def metric(state: ServingState, result: str) -> float:
    for line in state.metrics.render().decode().splitlines():
        if line.startswith(reloads(state, result)):
            return float(line.split()[-1])
    raise AssertionError(result)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_valid_reload_swaps_engine_and_fetches_new_keys_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        config = tmp_path / "policy.yaml"
        config.write_text(EMPTY)
        state = make_state([str(config)])
        await state.keystore.start()
        old = state.engine
        assert state.decide_now(TOKEN, time.time()).status == 200  # no RequestAuthentication: no JWT check
        config.write_text(RA.format(uri=server.url()))
        reloader = ConfigReloader(state, [str(config)])
        assert await reloader.reload_now() is True
        assert state.engine is not old
        assert state.keystore.snapshot[server.url()].kids == (ISTIO_KID,)  # fetched before the swap
        assert state.decide_now(TOKEN, time.time()).status == 200
        bad = RequestAttributes("GET", "/", headers={"authorization": ("Bearer a.b.c",)})
        assert state.decide_now(bad, time.time()).status == 401
        assert (
            metric(state, "success") == 1 and state.last_reload and state.last_reload["result"] == "success"
        )
        await reloader.close()
        await state.keystore.close()
        await server.stop()

    run(scenario)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (INVALID, 'policy.yaml:9: unknown field "bogus" in JWTRule'),
        ("kind: [unclosed\n", "policy.yaml:"),
        (None, "policy.yaml"),  # file deleted
    ],
    ids=["unknown-field", "malformed-yaml", "missing-file"],
)
def test_invalid_reload_is_rejected_and_old_config_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | None, problem: str
) -> None:
    async def scenario() -> None:
        config = tmp_path / "policy.yaml"
        config.write_text(RA.format(uri=NOWHERE))
        state = make_state([str(config)])
        old, old_resources = state.engine, state.resources
        if content is None:
            config.unlink()
        else:
            config.write_text(content)
        with caplog.at_level(logging.ERROR, logger="meshgate.reload"):
            assert await ConfigReloader(state).reload() is False
        assert state.engine is old and state.resources is old_resources
        assert metric(state, "rejected") == 1 and metric(state, "success") == 0
        assert state.last_reload is not None and any(problem in p for p in state.last_reload["problems"])
        assert any(problem in r.getMessage() for r in caplog.records)
        await state.keystore.close()

    run(scenario)


def make_configmap(root: Path, version: str, content: str) -> None:
    """Kubernetes' atomic writer layout: ..<ts>/file, ..data → ..<ts>, file → ..data/file."""
    (root / version).mkdir(parents=True)
    (root / version / "policy.yaml").write_text(content)
    tmp = root / "..data_tmp"
    os.symlink(version, tmp)
    os.replace(tmp, root / "..data")
    if not (root / "policy.yaml").is_symlink():
        os.symlink("..data/policy.yaml", root / "policy.yaml")


def test_configmap_symlink_swap_is_picked_up_by_polling(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        root = tmp_path / "config"
        make_configmap(root, "..2026_01_01_00_00_00.1", EMPTY)
        state = make_state([str(root / "policy.yaml")])
        old = state.engine
        reloader = ConfigReloader(state, poll_interval_s=0.02)
        await reloader.start()
        make_configmap(root, "..2026_01_01_00_01_00.2", RA.format(uri=server.url()))
        async with asyncio.timeout(5):
            while state.engine is old:
                await asyncio.sleep(0.01)
        assert [s.uri for s in state.engine.jwks_sources()] == [server.url()]
        await reloader.close()
        await state.keystore.close()
        await server.stop()

    run(scenario)


def test_reload_drops_only_the_uris_the_old_config_used(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Src:
        uri: str
        timeout_s: float = 0.5

    async def scenario() -> None:
        config = tmp_path / "policy.yaml"
        config.write_text(RA.format(uri="http://127.0.0.1:1/old.json"))
        state = make_state([str(config)])
        await state.keystore.start()
        await state.keystore.add_sources([Src("http://127.0.0.1:1/other-front.json")])
        config.write_text(RA.format(uri="http://127.0.0.1:1/new.json"))
        assert await ConfigReloader(state).reload() is True
        assert set(state.keystore.uris) == {
            "http://127.0.0.1:1/other-front.json",
            "http://127.0.0.1:1/new.json",
        }
        assert state.keystore.first_attempts_done
        await state.keystore.close()

    run(scenario)
