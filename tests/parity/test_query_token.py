"""Against a real Envoy 1.40: a verified token in the query string leaves the URL.

Envoy's jwt_authn removes the parameter when `forwardOriginalToken` is false (extractor.cc
JwtParamLocation::removeJwt); meshgate too. Each row states what Envoy forwarded upstream (`envoy`, asserted
against the live Envoy, so the observation stays honest) and what meshgate forwards (`meshgate`). They
differ only where Envoy re-serializes the rest of the query — sorted by name, values percent-decoded
(`%26` becomes a parameter separator, `%20` a raw space the upstream refuses: 503) — and meshgate keeps the
other parameters byte for byte and in order (docs/security.md "Where meshgate answers differently").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.parity.configs import DEMO_JWT, EXPLICIT, FORWARD, SEED
from tests.support.parity import ParityRig

T = DEMO_JWT
SAME = "same"
BAD_FORMAT = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"


@pytest.fixture(scope="module")
def rig() -> Iterator[ParityRig]:
    rig = ParityRig({"seed": SEED, "forward": FORWARD, "explicit": EXPLICIT}).start()
    yield rig
    rig.stop()


@pytest.mark.parametrize(
    ("target", "envoy", "meshgate"),
    [
        pytest.param(f"/data?x=1&access_token={T}&y=2", "/data?x=1&y=2", SAME, id="middle"),
        pytest.param(f"/data?access_token={T}&y=2", "/data?y=2", SAME, id="first"),
        pytest.param(f"/data?x=1&access_token={T}", "/data?x=1", SAME, id="last"),
        pytest.param(f"/data?access_token={T}", "/data", SAME, id="alone-no-question-mark-left"),
        pytest.param(f"/data?access_token={T}&access_token={T}", "/data", SAME, id="twice"),
        pytest.param(f"/data?x=1&access_token={T}&y=2&access_token={T}", "/data?x=1&y=2", SAME, id="twice-apart"),
        pytest.param(f"/data?access%5Ftoken={T}&x=1", "/data?x=1", SAME, id="percent-encoded-name"),
        pytest.param(f"/data?access_token={T}&", "/data", SAME, id="trailing-ampersand"),
        pytest.param(f"/data?a=1&a=2&access_token={T}", "/data?a=1&a=2", SAME, id="repeated-other-kept-in-order"),
        pytest.param(f"/data?x=1;y=2&access_token={T}", "/data?x=1;y=2", SAME, id="semicolon-kept"),
        pytest.param(f"/data?access_token={T}&x=%zz", "/data?x=%zz", SAME, id="bad-escape-kept"),
        # Envoy re-serializes the rest of the query from its decoded, sorted map
        pytest.param(f"/data?b=2&access_token={T}&a=1", "/data?a=1&b=2", "/data?b=2&a=1", id="envoy-sorts"),
        pytest.param(f"/data?x&access_token={T}&y=", "/data?x=&y=", "/data?x&y=", id="envoy-adds-equals"),
        pytest.param(f"/data?x=1&&access_token={T}&", "/data?=&x=1", "/data?x=1", id="envoy-empty-name"),
        pytest.param(f"/data?x=a%26admin%3D1&access_token={T}", "/data?x=a&admin=1", "/data?x=a%26admin%3D1",
                     id="envoy-decodes-an-ampersand-into-a-new-parameter"),
    ],
)  # fmt: skip
def test_token_parameter_removed(rig: ParityRig, target: str, envoy: str, meshgate: str) -> None:
    seen_envoy, seen_meshgate = rig.ask("seed", "GET", target)
    assert (seen_envoy.status, seen_meshgate.status) == (200, 200)
    assert seen_envoy.target == envoy, "Envoy 1.40 no longer forwards what the table says"
    assert seen_meshgate.target == (envoy if meshgate == SAME else meshgate)
    assert T not in seen_meshgate.target


def test_envoy_decoding_breaks_a_space(rig: ParityRig) -> None:
    """Envoy forwards `%20` decoded: a raw space in the request line, which the upstream refuses (503)."""
    seen_envoy, seen_meshgate = rig.ask("seed", "GET", f"/data?x=a%20b&access_token={T}")
    assert seen_envoy.status == 503 and seen_envoy.target is None
    assert (seen_meshgate.status, seen_meshgate.target) == (200, "/data?x=a%20b")


FORGED = f"{T[:-4]}AAAA"


@pytest.mark.parametrize(
    ("target", "headers", "status", "body"),
    [
        pytest.param("/data?access_token=&x=1", [], 401, BAD_FORMAT, id="empty-value"),
        pytest.param("/data?access_token", [], 401, BAD_FORMAT, id="name-alone"),
        pytest.param(f"/data?access_token={FORGED}&x=1", [], 401, "Jwt verification fails", id="forged"),
        # the parameter verified (and removed) first, the header then fails: the realm keeps the target received
        pytest.param(f"/data?x=1&access_token={T}", [("authorization", f"Bearer {FORGED}")], 401,
                     "Jwt verification fails", id="valid-param-forged-header"),
    ],
)  # fmt: skip
def test_refused_token_parameter(
    rig: ParityRig, target: str, headers: list[tuple[str, str]], status: int, body: str
) -> None:
    seen_envoy, seen_meshgate = rig.ask("seed", "GET", target, headers)
    assert seen_envoy.client_view() == seen_meshgate.client_view()
    assert (seen_envoy.status, seen_envoy.body, seen_envoy.target) == (status, body, None)
    assert seen_envoy.www_authenticate is not None and seen_envoy.www_authenticate.endswith(
        'error="invalid_token"'
    )


@pytest.mark.parametrize(
    ("config", "target", "upstream"),
    [
        pytest.param("forward", f"/data?x=1&access_token={T}", f"/data?x=1&access_token={T}", id="forwarded"),
        pytest.param("explicit", f"/data?x=1&tk={T}&access_token=kept", "/data?access_token=kept&x=1",
                     id="fromParams-its-own-only"),
        pytest.param("explicit", f"/data?tk={T}", "/data", id="fromParams-alone"),
    ],
)  # fmt: skip
def test_other_configurations(rig: ParityRig, config: str, target: str, upstream: str) -> None:
    seen_envoy, seen_meshgate = rig.ask(config, "GET", target)
    assert (seen_envoy.status, seen_meshgate.status) == (200, 200)
    assert seen_envoy.target == upstream
    # meshgate keeps the order of what remains (one row differs from Envoy's sorted rewrite)
    assert seen_meshgate.target == upstream.replace("access_token=kept&x=1", "x=1&access_token=kept")
