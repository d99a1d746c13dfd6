"""Parity through the ext_authz gRPC front: a real Envoy 1.40 asks `meshgate authz-server`.

A token in the query: meshgate answers an allowed request whose token came from the query with
`OkHttpResponse.query_parameters_to_remove` (extauthz/grpc_server.py); Envoy's ext_authz filter then
rewrites `:path` itself (ext_authz.cc): the token is gone, and what remains is Envoy's re-serialization —
sorted by name, values as received. Asserted against what the upstream really received, and against the
emulation tests/extauthz/observe.py uses for the golden table.
Repeated token headers: Envoy's CheckRequest carries one value per header (its lines joined with ','), so a token header
Envoy's own jwt_authn reads line by line is one token for meshgate there (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.extauthz.conftest import HAVE_GRPC, LoopThread, start_authz
from tests.extauthz.observe import without_query_params
from tests.parity.configs import DEMO_JWT, EXPLICIT, SEED
from tests.support.envoy_jwt import (
    EnvoyProcess,
    Response,
    cluster,
    exchange,
    grpc_ext_authz_filter,
    istio_filters,
    request_bytes,
)
from tests.support.recording_upstream import RecordingUpstream

pytestmark = pytest.mark.skipif(
    not HAVE_GRPC, reason="grpcio / xds-protos not importable (meshgate[extauthz])"
)
T = DEMO_JWT
BAD_FORMAT = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"


@pytest.fixture(scope="module")
def envoy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EnvoyProcess, RecordingUpstream]]:
    """Listeners `seed` and `explicit` ask a meshgate authz-server each; `jwt_authn` is Envoy's own filter."""
    loop = LoopThread()
    directory = Path(tmp_path_factory.mktemp("extauthz"))
    servers = {}
    for name, text in (("seed", SEED), ("explicit", EXPLICIT)):
        (directory / f"{name}.yaml").write_text(text)
        servers[name] = start_authz(
            loop, directory / f"{name}.yaml", http="", admin="", namespace="default", labels={}
        )
    upstream = RecordingUpstream().start()
    envoy = EnvoyProcess.start(
        {
            "seed": [grpc_ext_authz_filter("authz-seed")],
            "explicit": [grpc_ext_authz_filter("authz-explicit")],
            "jwt_authn": istio_filters(EXPLICIT),
        },
        upstream.port,
        extra_clusters=[cluster(f"authz-{n}", s.grpc_port, http2=True) for n, s in servers.items()],
    )
    yield envoy, upstream
    envoy.stop()
    upstream.stop()
    for server in servers.values():
        loop.run(server.stop())
    loop.close()


def send(
    envoy: tuple[EnvoyProcess, RecordingUpstream], listener: str, target: str, headers: list[tuple[str, str]]
) -> tuple[Response, list[str]]:
    process, upstream = envoy
    before = len(upstream.received)
    response = exchange(
        process.port(listener), request_bytes("GET", target, [("host", "parity.example.com"), *headers])
    )
    return response, [r.target for r in upstream.received[before:]]


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
    envoy: tuple[EnvoyProcess, RecordingUpstream], target: str, upstream_target: str | None
) -> None:
    response, reached = send(envoy, "seed", target, [])
    if upstream_target is None:
        assert (response.status, response.body, reached) == (403, "RBAC: access denied", [])
        return
    assert response.status == 200 and reached == [upstream_target]
    removed = ["access_token", "access%5Ftoken"]
    assert without_query_params(target, removed) == upstream_target, "observe.py's emulation drifted"


def test_repeated_token_header_is_one_value_through_ext_authz(
    envoy: tuple[EnvoyProcess, RecordingUpstream],
) -> None:
    """Two `x-token` lines holding the same valid token: Envoy's jwt_authn verifies each (200); through
    ext_authz meshgate receives `T,T` and refuses it as one token (401, Envoy's message for it)."""
    lines = [("x-token", T), ("x-token", T)]
    response, reached = send(envoy, "jwt_authn", "/p", lines)
    assert (response.status, reached) == (200, ["/p"])
    response, reached = send(envoy, "explicit", "/p", lines)
    assert (response.status, response.body, reached) == (401, BAD_FORMAT, [])
    response, reached = send(envoy, "explicit", "/p", lines[:1])
    assert (response.status, reached) == (200, ["/p"])
