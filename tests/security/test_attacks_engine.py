"""The engine-side attack table (tests/security/tables.py) against a live `meshgate serve` over real sockets.

Each attack is one HTTP/1.1 request to the gateway (serve's Gateway on its own loop, trusting one
X-Forwarded-For hop) in front of a recording upstream. Asserted: the status and body, and that nothing
forbidden reached the upstream — no request at all for a refused one; for an allowed one exactly the
expected target and none of the forbidden headers (tokens, spoofed or injected headers).
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.security.tables import ATTACKS, CONFIG, GOOD, Attack, signed
from tests.support.servers import GatewayThread, Upstream

from meshgate.gateway.serve import ServeOptions

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayThread, Upstream]]:
    upstream = Upstream().start()
    config = Path(tmp_path_factory.mktemp("attacks")) / "config.yaml"
    config.write_text(CONFIG)
    opts = ServeOptions(
        config_paths=(str(config),),
        listen="127.0.0.1:0",
        admin=None,
        upstream=upstream.url,
        namespace="istio-system",
        labels={"istio": "ingressgateway"},
        access_log_format="off",
        trusted_proxies=1,
    )
    gateway = GatewayThread(opts)
    yield gateway, upstream
    gateway.stop()
    upstream.stop()


def send(port: int, attack: Attack) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(attack.method, attack.target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("host", attack.host)
        for name, value in attack.headers:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: f"{a.id} [{a.source}]")
def test_attack(live: tuple[GatewayThread, Upstream], attack: Attack) -> None:
    gateway, upstream = live
    before = len(upstream.seen)
    status, body = send(gateway.port, attack)
    assert status == attack.status, body
    if attack.body is not None:
        assert body == attack.body
    reached = upstream.seen[before:]
    if attack.status != 200:
        assert reached == [], "a refused request reached the upstream"
        return
    assert [seen.target for seen in reached] == [attack.upstream_path]
    for name in attack.absent:
        assert reached[0].header(name) == [], f"{name} reached the upstream"


def test_gateway_still_serves_after_the_attacks(live: tuple[GatewayThread, Upstream]) -> None:
    gateway, upstream = live
    ok = Attack("valid", "-", "/private/ok", 200, headers=(("authorization", f"Bearer {GOOD}"),))
    assert send(gateway.port, ok)[0] == 200
    assert upstream.seen[-1].target == "/private/ok"
    assert upstream.seen[-1].header("x-jwt-sub") == ["testing@secure.istio.io"]


def test_non_latin1_claim_is_forwarded_as_utf8(live: tuple[GatewayThread, Upstream]) -> None:
    """authenticator.cc addJWTClaimToHeader: claim text goes upstream as UTF-8 (no traceback, no close)."""
    gateway, upstream = live
    token = signed(note="中文")
    attack = Attack(
        "utf-8 claim", "authenticator.cc", "/public", 200, headers=(("authorization", f"Bearer {token}"),)
    )
    assert send(gateway.port, attack)[0] == 200
    assert upstream.seen[-1].header("x-jwt-note") == ["中文"]
