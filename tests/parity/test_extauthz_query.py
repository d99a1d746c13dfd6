"""Issue 10 item 1 through the ext_authz gRPC front: a real Envoy 1.40 asks `meshgate authz-server`.

meshgate answers an allowed request whose token came from the query with
`OkHttpResponse.query_parameters_to_remove` (fronts/extauthz_grpc.py); Envoy's ext_authz filter then
rewrites `:path` itself (ext_authz.cc): the token is gone, and what remains is Envoy's re-serialization —
sorted by name, values as received. Asserted against what the upstream really received, and against the
emulation tests/extauthz/observe.py uses for the golden table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.extauthz.conftest import HAVE_GRPC, LoopThread, start_authz
from tests.extauthz.observe import without_query_params
from tests.parity.configs import DEMO_JWT, SEED
from tests.support.envoy_jwt import EnvoyProcess, cluster, exchange, grpc_ext_authz_filter, request_bytes
from tests.support.recording_upstream import RecordingUpstream

pytestmark = pytest.mark.skipif(
    not HAVE_GRPC, reason="grpcio / xds-protos not importable (meshgate[extauthz])"
)
T = DEMO_JWT


@pytest.fixture(scope="module")
def envoy_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, RecordingUpstream]]:
    loop = LoopThread()
    config = Path(tmp_path_factory.mktemp("extauthz")) / "seed.yaml"
    config.write_text(SEED)
    authz = start_authz(loop, config, http="", admin="", namespace="default", labels={})
    upstream = RecordingUpstream().start()
    envoy = EnvoyProcess.start(
        {"ext_authz": [grpc_ext_authz_filter("meshgate")]},
        upstream.port,
        extra_clusters=[cluster("meshgate", authz.grpc_port, http2=True)],
    )
    yield envoy.port("ext_authz"), upstream
    envoy.stop()
    upstream.stop()
    loop.run(authz.stop())
    loop.close()


@pytest.mark.parametrize(
    ("target", "upstream_target"),
    [
        pytest.param(f"/data?x=1&access_token={T}&y=2", "/data?x=1&y=2", id="middle"),
        pytest.param(f"/data?access_token={T}", "/data", id="alone"),
        pytest.param(f"/data?access_token={T}&access_token={T}", "/data", id="twice"),
        pytest.param(f"/data?b=2&access_token={T}&a=1", "/data?a=1&b=2", id="envoy-sorts"),
        pytest.param(f"/data?access%5Ftoken={T}&x=1", "/data?x=1", id="percent-encoded-name"),
        pytest.param(f"/data?x=a%26b&access_token={T}", "/data?x=a%26b", id="values-as-received"),
        pytest.param("/data?x=1", None, id="no-token-403"),
    ],
)
def test_query_token_removed_by_envoy_on_our_answer(
    envoy_port: tuple[int, RecordingUpstream], target: str, upstream_target: str | None
) -> None:
    port, upstream = envoy_port
    before = len(upstream.received)
    response = exchange(port, request_bytes("GET", target, [("host", "parity.example.com")]))
    reached = upstream.received[before:]
    if upstream_target is None:
        assert (response.status, response.body, reached) == (403, "RBAC: access denied", [])
        return
    assert response.status == 200 and [r.target for r in reached] == [upstream_target]
    removed = ["access_token", "access%5Ftoken"]
    assert without_query_params(target, removed) == upstream_target, "observe.py's emulation drifted"
