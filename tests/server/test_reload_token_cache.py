"""A reload keeps what it did not change: the verified-token cache outlives reloads.

Real files, the real reloader and a real JWKS server over HTTP; verifications are counted by wrapping the
engine's signature check (the real one still runs) and read off /stats (`meshgate_jwt_cache_lookups`).
An AuthorizationPolicy edit re-verifies nothing; a RequestAuthentication edit to a provider drops that
provider's tokens (verified again on next use) and keeps the other provider's. Mutations caught: building
a fresh cache per engine (the AP edit re-verifies), never forgetting (the edited provider keeps entries).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.jwks_server import JwksServer
from tests.support.samples import SAMPLES

from meshgate.authn import run as authn_run
from meshgate.config.model import Workload
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.options import EngineOptions
from meshgate.jose.mint import sign_token
from meshgate.keystore.store import KeyStore
from meshgate.server.access_log import AccessLog
from meshgate.server.metrics import Metrics
from meshgate.server.reload import ConfigReloader, load_and_build
from meshgate.server.state import ServingState

ISSUER = "testing@secure.istio.io"
OTHER = "other@example.com"
KEY = (SAMPLES / "key.pem").read_bytes()
RA = """apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: default}}
spec:
  jwtRules:
  - issuer: {issuer}
    jwksUri: {uri}{extra}
  - issuer: {other}
    jwksUri: {uri}
"""
AP = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: require-jwt, namespace: default}}
spec:
  rules:
  - from:
    - source: {{requestPrincipals: ["{principals}"]}}
"""


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The issuer of every token whose signature the engine checks (the real check still runs)."""
    checked: list[str] = []
    real = authn_run.verify

    def counting(parsed: Any, keyset: Any) -> Any:
        checked.append(parsed.iss)
        return real(parsed, keyset)

    monkeypatch.setattr(authn_run, "verify", counting)
    yield checked


def request(token: str, path: str = "/") -> RequestAttributes:
    return RequestAttributes("GET", path, authority="h", headers={"authorization": (f"Bearer {token}",)})


def lookups(state: ServingState, result: str) -> float:
    wanted = f'meshgate_jwt_cache_lookups_total{{result="{result}"}}'
    for line in state.metrics.render().decode().splitlines():
        if line.startswith(wanted):
            return float(line.split()[-1])
    raise AssertionError(wanted)


def test_reloads_keep_the_tokens_of_unchanged_providers(tmp_path: Path, signature_checks: list[str]) -> None:
    ours = sign_token(KEY, {"iss": ISSUER, "sub": ISSUER, "exp": int(time.time()) + 3600})
    theirs = sign_token(KEY, {"iss": OTHER, "sub": OTHER, "exp": int(time.time()) + 3600})

    async def scenario() -> None:
        server = JwksServer()
        await server.start()
        ra, ap = tmp_path / "ra.yaml", tmp_path / "ap.yaml"
        ra.write_text(RA.format(issuer=ISSUER, other=OTHER, uri=server.url(), extra=""))
        ap.write_text(AP.format(principals="*"))
        paths = [str(ra), str(ap)]
        built = load_and_build(paths, Workload(), EngineOptions())
        resources, engine = built.resources, built.engine
        keystore = KeyStore(engine.jwks_sources())
        state = ServingState(engine, keystore, Metrics(), AccessLog(io.StringIO()), config_paths=paths,
                             resources=resources)  # fmt: skip
        await keystore.start()
        await keystore.wait_first_attempts(5)
        reloader = ConfigReloader(state, paths)
        try:
            for token in (ours, theirs):
                assert state.decide_now(request(token), time.time()).allowed
            assert sorted(signature_checks) == [OTHER, ISSUER]
            assert len(state.verified_tokens) == 2
            misses = lookups(state, "miss")  # ours misses at the other provider too (its issuer differs)

            # An AuthorizationPolicy edit: the answers change, no token is verified again.
            ap.write_text(AP.format(principals=f"{ISSUER}/{ISSUER}"))
            assert await reloader.reload_now() is True
            assert state.decide_now(request(ours, "/a"), time.time()).allowed
            assert state.decide_now(request(theirs, "/b"), time.time()).status == 403
            assert len(signature_checks) == 2 and lookups(state, "miss") == misses

            # A RequestAuthentication edit to one provider: its token is verified again, the other's not.
            edit = "\n    forwardOriginalToken: true"
            ra.write_text(RA.format(issuer=ISSUER, other=OTHER, uri=server.url(), extra=edit))
            assert await reloader.reload_now() is True
            assert len(state.verified_tokens) == 1  # the edited provider's entry is gone, the other kept
            hits = lookups(state, "hit")
            assert state.decide_now(request(ours), time.time()).allowed
            assert state.decide_now(request(theirs), time.time()).status == 403
            assert signature_checks[2:] == [ISSUER]
            assert lookups(state, "miss") > misses and lookups(state, "hit") == hits + 1  # theirs
        finally:
            await reloader.close()
            await keystore.close()
            await server.stop()

    asyncio.run(scenario())
