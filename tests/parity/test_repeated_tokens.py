"""Against a real Envoy 1.40: where tokens are read, and requests carrying several.

Envoy 1.40 reads a header token to the end of the entry; repeated lines of an inline header (Authorization
among them) are one entry joined with ','; any other header gives a token per line; a parameter or cookie
its first value. Rows with a meshgate answer are requests Envoy lets through on their first token and
meshgate refuses (docs/security.md "More than one token"); the others must get Envoy's exact answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.parity.common import (
    BAD_FORMAT,
    DENIED,
    HEADER_JSON,
    OTHER_ISSUER,
    SIG_B64,
    TOKEN_HEADERS,
    VERIFY,
    F,
    T,
    bearer,
    compare,
)
from tests.parity.configs import DENY_ANONYMOUS, EXPLICIT, SEED, request_authentication
from tests.support.parity import ParityRig

from meshgate.authn.extractor import INLINE_HEADERS

# header_map_impl: which request headers Envoy keeps inline (repeated lines joined into one token entry)
JOINED = ["authorization", "user-agent", "referer", "via", "accept", "accept-encoding", "cache-control",
          "content-encoding", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range",
          "origin", "pragma", "access-control-request-headers", "access-control-request-method",
          "grpc-accept-encoding", "x-client-trace-id", "x-forwarded-host", "expect", "grpc-timeout",
          "content-type", "proxy-status"]  # fmt: skip
SEPARATE = ["proxy-authorization", "x-token", "x-jwt-assertion", "forwarded", "etag", "last-modified", "vary"]


@pytest.fixture(scope="module")
def rig() -> Iterator[ParityRig]:
    """`seed`, `explicit`, and one configuration per header name reading a token from it (no prefix)."""
    configs = {"seed": SEED, "explicit": EXPLICIT}
    for name in JOINED + SEPARATE:
        configs[name] = request_authentication(f"    fromHeaders: [{{name: {name}}}]\n") + DENY_ANONYMOUS
    rig = ParityRig(configs).start()
    yield rig
    rig.stop()


EXTRACTION = [
    pytest.param(bearer(T, F), BAD_FORMAT, None, id="two-authorization-lines-valid-forged"),
    pytest.param(bearer(F, T), BAD_FORMAT, None, id="two-authorization-lines-forged-valid"),
    pytest.param(bearer(T, T), BAD_FORMAT, None, id="two-authorization-lines-valid-valid"),
    pytest.param(bearer(T, "garbage"), SIG_B64, None, id="two-authorization-lines-valid-garbage"),
    pytest.param(
        [*bearer(T), ("authorization", "Basic abc")], SIG_B64, None, id="authorization-bearer-basic"
    ),
    pytest.param(bearer(T, OTHER_ISSUER), BAD_FORMAT, None, id="two-authorization-lines-other-issuer"),
    pytest.param([("authorization", f"Bearer {T},Bearer {F}")], BAD_FORMAT, None, id="one-line-comma"),
    pytest.param([("authorization", f"Bearer {T}, Basic x")], SIG_B64, None, id="one-line-then-basic"),
    pytest.param([("authorization", f"Basic x, Bearer {T}")], 200, None, id="prefix-anywhere"),
    pytest.param([("authorization", f"Bearer {T};")], SIG_B64, None, id="semicolon-after"),
    pytest.param([("authorization", f'Bearer "{T}"')], SIG_B64, None, id="quoted"),
    pytest.param([("authorization", f"Bearer  \t{T} ")], 200, None, id="whitespace-around"),
    pytest.param([("authorization", f"Bearer Bearer {T}")], HEADER_JSON, None, id="prefix-twice"),
    pytest.param([("authorization", "Bearer !!!")], BAD_FORMAT, None, id="no-token-character"),
    pytest.param([("authorization", "Bearer ")], DENIED, None, id="prefix-only-is-no-token"),
    pytest.param([("authorization", f"bearer {T}")], DENIED, None, id="prefix-case-sensitive"),
]


@pytest.mark.parametrize(("headers", "envoy", "meshgate"), EXTRACTION)
def test_authorization(
    rig: ParityRig, headers: list[tuple[str, str]], envoy: int | str, meshgate: str | None
) -> None:
    compare(rig, "seed", "/p", headers, envoy, meshgate)


# Beyond Authorization: explicit locations of every kind (fromHeaders, fromParams, fromCookies)
REPEATS = [
    pytest.param("/p", [("x-token", T), ("x-token", F)], VERIFY, None, id="x-token-lines-valid-forged"),
    pytest.param("/p", [("x-token", F), ("x-token", T)], VERIFY, None, id="x-token-lines-forged-valid"),
    pytest.param("/p", [("x-token", T), ("x-token", T)], 200, None, id="x-token-lines-valid-valid"),
    pytest.param("/p", [("x-token", f"{T},{F}")], BAD_FORMAT, None, id="x-token-one-line-comma"),
    pytest.param("/p", [("x-token", f" {T}\t")], 200, None, id="x-token-whitespace-around"),
    pytest.param(f"/p?tk={T}&tk={F}", [], 200, VERIFY, id="param-valid-forged"),
    pytest.param(f"/p?tk={F}&tk={T}", [], VERIFY, None, id="param-forged-valid"),
    pytest.param(f"/p?tk={T}&tk={T}", [], 200, None, id="param-valid-valid"),
    pytest.param("/p", [("cookie", f"session={T}; session={F}")], 200, VERIFY, id="cookie-valid-forged"),
    pytest.param("/p", [("cookie", f"session={F}; session={T}")], VERIFY, None, id="cookie-forged-valid"),
    pytest.param(
        "/p",
        [("cookie", f"session={T}"), ("cookie", f"session={F}")],
        200,
        VERIFY,
        id="cookie-lines-valid-forged",
    ),
    pytest.param("/p", [("cookie", f"session={T}; other=1")], 200, None, id="cookie-valid"),
    pytest.param("/p", [*bearer(T), ("x-token", F)], VERIFY, None, id="header-and-other-header"),
    pytest.param(f"/p?tk={F}", bearer(T), VERIFY, None, id="header-and-param"),
]


@pytest.mark.parametrize(("path", "headers", "envoy", "meshgate"), REPEATS)
def test_explicit_locations(
    rig: ParityRig, path: str, headers: list[tuple[str, str]], envoy: int | str, meshgate: str | None
) -> None:
    if envoy == 200 and meshgate is None:
        seen_envoy, seen_meshgate = rig.ask("explicit", "GET", path, headers)
        assert seen_envoy.status == seen_meshgate.status == 200
        expected = path.split("?")[0]  # the verified parameter is removed
        assert seen_envoy.target == seen_meshgate.target == expected
        for name in TOKEN_HEADERS:
            assert seen_meshgate.upstream(name) == seen_envoy.upstream(name), name
        return
    if envoy == 200:  # Envoy forwards; meshgate refuses
        seen_envoy, seen_meshgate = rig.ask("explicit", "GET", path, headers)
        assert seen_envoy.status == 200
        assert (seen_meshgate.status, seen_meshgate.body, seen_meshgate.target) == (401, meshgate, None)
        return
    compare(rig, "explicit", path, headers, envoy, meshgate)


@pytest.mark.parametrize("name", JOINED + SEPARATE)
def test_repeated_header_lines(rig: ParityRig, name: str) -> None:
    """Two lines holding the same valid token: one entry `T,T` (bad format) for an inline header, else two."""
    assert (name in INLINE_HEADERS) == (name in JOINED), (
        "authn/extractor.py INLINE_HEADERS disagrees with Envoy"
    )
    seen_envoy, seen_meshgate = rig.ask(name, "GET", "/p", [(name, T), (name, T)])
    if name in JOINED:
        assert (seen_envoy.status, seen_envoy.body) == (401, BAD_FORMAT)
    else:
        assert (seen_envoy.status, seen_envoy.target) == (200, "/p")
    assert seen_meshgate.client_view() == seen_envoy.client_view()
