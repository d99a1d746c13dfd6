"""Issue 14, phase 1: Envoy 1.40's HTTP/2 limits and its answers to hostile clients, as Istio's ingress
leaves them (no `http2_protocol_options` unless the ConnectionSettings EDGE profile is chosen:
istio/istio:pilot/pkg/networking/core/connection_settings.go), pinned from a real Envoy (tests/support/
h2_hostile.py has the probes and the expected outcomes; phase 2 asserts the same rows against meshgate).

All probes run at once, each on its own connection (Envoy takes a second to close most of them: the
connection manager's default delayed_close_timeout), and then each row is asserted. A probe that stops
tripping its limit, or trips it one step early, fails its row; the last test shows that other
connections were served all along.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hyperframe.frame import SettingsFrame, WindowUpdateFrame
from tests.support.grpc_servers import grpc_frame, grpc_headers
from tests.support.h2_client import H2Client
from tests.support.h2_facts import DEMO_JWT, GRPC_HOST, HEALTH_CHECK
from tests.support.h2_hostile import PROBES, Outcome, Probe, observe
from tests.support.h2_ingress import IngressRig
from tests.support.h2_raw import RawH2

PREMATURE = "http.plain.downstream_rq_too_many_premature_resets"  # conn_manager_impl.cc stat


@pytest.fixture(scope="module")
def rig() -> Iterator[IngressRig]:
    r = IngressRig().start()
    yield r
    r.stop()


def _run(rig: IngressRig, probe: Probe) -> Outcome:
    with RawH2(rig.port(probe.listener)) as raw:
        raw.read(lambda fs: any(isinstance(f, SettingsFrame) for f in fs), 2)
        raw.send(raw.settings_ack())
        probe.run(raw)
        try:
            return observe(raw)
        except TimeoutError as e:
            raise TimeoutError(f"{probe.name}: {e}") from None


@pytest.fixture(scope="module")
def outcomes(rig: IngressRig) -> dict[str, Outcome]:
    before = rig.stat(PREMATURE)
    with ThreadPoolExecutor(max_workers=len(PROBES)) as pool:
        results = dict(zip([p.name for p in PROBES], pool.map(lambda p: _run(rig, p), PROBES), strict=True))
    results["<premature-reset closes>"] = Outcome(resets={0: rig.stat(PREMATURE) - before})
    return results


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_envoy_answer(outcomes: dict[str, Outcome], probe: Probe) -> None:
    assert outcomes[probe.name].agrees(probe.expected), outcomes[probe.name]


def test_rapid_reset_close_is_the_premature_reset_guard(outcomes: dict[str, Outcome]) -> None:
    """conn_manager_impl.cc's premature-reset check (runtime overload.premature_reset_total_stream_count 500,
    overload.premature_reset_min_stream_lifetime_seconds 1: closed once half of 500 streams ended without a
    response) closed exactly one connection: the 250-reset probe's. The 1100-reset probe was stopped by
    nghttp2's RST_STREAM rate limit instead (burst 1000, refill 33/s), with its GOAWAY. (A connection closed
    for another reason with 250+ open streams also counts: its streams end unanswered.)"""
    assert outcomes["<premature-reset closes>"].resets == {0: 1}


@pytest.mark.parametrize(
    ("listener", "settings", "connection_window"),
    [
        # envoyproxy/envoy Http2::Utility::OptionsLimits (1.40): 1024 streams, 16 MiB stream, 24 MiB connection
        ("plain", {1: 4096, 8: 0, 3: 1024, 4: 16777216}, 24 * 1024 * 1024),
        # Istio's EDGE profile: 100 streams, 64 KiB stream window, 1 MiB connection window
        ("edge", {1: 4096, 8: 0, 3: 100, 4: 65536}, 1024 * 1024),
    ],
)
def test_server_settings(
    rig: IngressRig, listener: str, settings: dict[int, int], connection_window: int
) -> None:
    """The SETTINGS Envoy sends first (HEADER_TABLE_SIZE, ENABLE_CONNECT_PROTOCOL, MAX_CONCURRENT_STREAMS,
    INITIAL_WINDOW_SIZE; no MAX_HEADER_LIST_SIZE, no MAX_FRAME_SIZE), then a connection WINDOW_UPDATE."""
    with RawH2(rig.port(listener)) as raw:
        frames = raw.read(lambda fs: any(isinstance(f, WindowUpdateFrame) for f in fs), 2)
    first = frames[0]
    assert isinstance(first, SettingsFrame) and list(first.settings.items()) == list(settings.items())
    update = next(f for f in frames if isinstance(f, WindowUpdateFrame))
    assert (update.stream_id, update.window_increment) == (0, connection_window - 65535)


def test_other_connections_were_served_throughout(rig: IngressRig, outcomes: dict[str, Outcome]) -> None:
    with H2Client(rig.port("plain")) as client:
        r = client.exchange("POST", HEALTH_CHECK, GRPC_HOST, grpc_headers(DEMO_JWT), grpc_frame(b""))
    assert r.trailers is not None and r.trailer("grpc-status") == "0"
