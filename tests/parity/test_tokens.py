"""Issue 10 items 3 and 5, against a real Envoy 1.40: how a token is read and spelled, and repeated tokens.

Rows marked `same` must get Envoy's exact answer (status, body, `www-authenticate`) and forward the same
token headers; rows marked `safer` are ones Envoy 1.40 lets through (200) and meshgate refuses with the
answer in the row (docs/security.md) — the Envoy side of those rows is asserted too, so the table stays a
record of what Envoy does. Every token is correctly signed over exactly its segments (any spelling), so a
refusal is about the spelling or the repetition, never the signature, unless the row forges it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.parity.configs import DEMO_JWT, DENY_ANONYMOUS, EXPLICIT, SEED, request_authentication
from tests.support.jws_craft import (
    HEADER,
    ISSUER,
    forge,
    json_text,
    seg,
    sign_claims_text,
    sign_segments,
    std_b64,
)
from tests.support.parity import ParityRig

BAD_FORMAT = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
HEADER_B64 = "Jwt header is an invalid Base64url encoded"
PAYLOAD_B64 = "Jwt payload is an invalid Base64url encoded"
SIG_B64 = "Jwt signature is an invalid Base64url encoded"
VERIFY = "Jwt verification fails"
HEADER_JSON = "Jwt header is an invalid JSON"
PAYLOAD_JSON = "Jwt payload is an invalid JSON"
DENIED = "RBAC: access denied"
CLAIMS = {"iss": ISSUER, "sub": ISSUER, "exp": 4685989700}

T = DEMO_JWT
F = forge(DEMO_JWT)
H, P, S = T.split(".")
OTHER_ISSUER = sign_claims_text(json_text({"iss": "other@example.com", "sub": "x", "exp": 4685989700}))
_LAST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def spelled(rem: int, where: str) -> tuple[str, str]:
    """(header, payload) segments where `where`'s base64url leaves `rem` characters in its last quantum."""
    for n in range(8):
        header, payload = seg(json_text(HEADER)), seg(json_text(CLAIMS))
        if where == "header":
            header = seg(json_text({**HEADER, "n": "x" * n}))
            if len(header) % 4 == rem:
                return header, payload
        else:
            payload = seg(json_text({**CLAIMS, "n": "x" * n}))
            if len(payload) % 4 == rem:
                return header, payload
    raise AssertionError((rem, where))


def std_needing(chars: str) -> str:
    """A header whose standard-alphabet base64 holds every one of `chars`."""
    for i in range(64):
        text = json_text({**HEADER, "n": "x" * (i % 3) + "~?>", "m": "x" * (i // 3 % 3) + "???"})
        if all(c in std_b64(text, pad=False) for c in chars):
            return text
    raise AssertionError(chars)


def pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def bits(text: str) -> str:
    """The same bytes with non-zero unused trailing bits (another spelling absl accepts)."""
    return text[:-1] + _LAST[_LAST.index(text[-1]) | 1]


H2, P2 = spelled(2, "header")
H3, P3 = spelled(3, "payload")
STD = std_needing("+/")


@pytest.fixture(scope="module")
def rig() -> Iterator[ParityRig]:
    rig = ParityRig({"seed": SEED, "explicit": EXPLICIT}).start()
    yield rig
    rig.stop()


def bearer(*tokens: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {t}") for t in tokens]


# (config, headers, path, Envoy's answer, meshgate's when it differs) — 200 means allowed
SPELLING = [
    pytest.param(
        bearer(sign_segments(std_b64(STD, pad=False), seg(json_text(CLAIMS)))),
        HEADER_B64,
        None,
        id="header-standard-alphabet",
    ),
    pytest.param(bearer(sign_segments(H2[:5] + "!" + H2[5:], P2)), HEADER_B64, None, id="header-stray-bang"),
    pytest.param(bearer(sign_segments(pad(H2) + "=", P2)), HEADER_B64, None, id="header-wrong-pad-count"),
    pytest.param(bearer(sign_segments(H2 + "=", P2)), HEADER_B64, None, id="header-one-pad-of-two"),
    pytest.param(
        bearer(sign_segments(H2, std_b64(json_text(CLAIMS), pad=False) + "+/")),
        PAYLOAD_B64,
        None,
        id="payload-standard-alphabet",
    ),
    pytest.param(
        bearer(sign_segments(H3, P3[:5] + "!" + P3[5:])), PAYLOAD_B64, None, id="payload-stray-bang"
    ),
    pytest.param(bearer(f"{H}.{P}.{S}="), SIG_B64, None, id="signature-one-pad-of-two"),
    pytest.param(bearer(f"{H}.{P}.{S}==="), SIG_B64, None, id="signature-three-pads"),
    pytest.param(bearer(f"{H}.{P}.{S[:5]}!{S[5:]}"), SIG_B64, None, id="signature-stray-bang"),
    pytest.param(
        bearer(f"{H}.{P}.{S.replace('_', '/').replace('-', '+')}+"),
        SIG_B64,
        None,
        id="signature-standard-alphabet",
    ),
    # absl accepts these spellings: Envoy 200, meshgate refuses with the segment's message (one spelling)
    pytest.param(bearer(sign_segments(pad(H2), P2)), 200, HEADER_B64, id="header-padded"),
    pytest.param(bearer(sign_segments(bits(H2), P2)), 200, HEADER_B64, id="header-trailing-bits"),
    pytest.param(bearer(sign_segments(H3, pad(P3))), 200, PAYLOAD_B64, id="payload-padded"),
    pytest.param(bearer(sign_segments(H3, P3[:4] + "\t" + P3[4:])), 200, PAYLOAD_B64, id="payload-tab"),
    pytest.param(bearer(f"{T}=="), 200, SIG_B64, id="signature-padded"),
    pytest.param(bearer(f"{H}.{P}.{bits(S)}"), 200, SIG_B64, id="signature-trailing-bits"),
    pytest.param(bearer(f"{H}.{P}.{S[:9]} {S[9:]}"), 200, SIG_B64, id="signature-space"),
    pytest.param(bearer(f"{H}..{P}.{S}"), 200, BAD_FORMAT, id="empty-segment"),
    pytest.param(bearer(f".{T}."), 200, BAD_FORMAT, id="outer-dots"),
    pytest.param(
        bearer(sign_segments(seg(json_text({**HEADER, "crit": ["b64"], "b64": False})), P)),
        200,
        HEADER_JSON,
        id="crit",
    ),
    pytest.param(
        bearer(sign_segments(seg(json_text({**HEADER, "cty": "JWT"})), P)), 200, HEADER_JSON, id="nested-cty"
    ),
    # where Envoy refuses anyway, its reason wins over the spelling
    pytest.param(bearer(forge(sign_segments(pad(H2), P2))), VERIFY, None, id="padded-header-forged"),
    pytest.param(bearer(f"{F}=="), VERIFY, None, id="padded-forged-signature"),
    pytest.param(bearer(f"{T} junk"), VERIFY, None, id="trailing-junk-absl-skips-the-space"),
    pytest.param(
        bearer(sign_segments(pad(H2), seg(json_text({**CLAIMS, "iss": "x"})))),
        "Jwt issuer is not configured",
        None,
        id="padded-header-unknown-issuer",
    ),
    pytest.param(
        bearer(sign_segments(seg(json_text({**HEADER, "crit": []})), seg('{"sub":"a","sub":"b"}'))),
        PAYLOAD_JSON,
        None,
        id="crit-and-duplicate-claim",
    ),
    pytest.param(
        bearer(sign_segments(seg('{"alg":"none","alg":"RS256"}'), P)),
        HEADER_JSON,
        None,
        id="duplicate-header-name",
    ),
]
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


@pytest.mark.parametrize(("headers", "envoy", "meshgate"), SPELLING + EXTRACTION)
def test_seed(rig: ParityRig, headers: list[tuple[str, str]], envoy: int | str, meshgate: str | None) -> None:
    compare(rig, "seed", "/p", headers, envoy, meshgate)


def compare(
    rig: ParityRig,
    config: str,
    path: str,
    headers: list[tuple[str, str]],
    envoy: int | str,
    meshgate: str | None,
) -> None:
    seen_envoy, seen_meshgate = rig.ask(config, "GET", path, headers)
    if envoy == 200:
        assert (seen_envoy.status, seen_envoy.target) == (200, path), seen_envoy
    else:
        assert seen_envoy.body == envoy and seen_envoy.target is None, seen_envoy
    if meshgate is None:  # same
        assert seen_meshgate.client_view() == seen_envoy.client_view()
        assert seen_meshgate.target == seen_envoy.target
        for name in ("authorization", "x-token", "cookie", "x-jwt-payload"):
            assert seen_meshgate.upstream(name) == seen_envoy.upstream(name), name
    else:  # safer: refused, with Envoy's layout of a JWT refusal
        assert (seen_meshgate.status, seen_meshgate.body, seen_meshgate.target) == (401, meshgate, None)
        assert (
            seen_meshgate.www_authenticate
            == f'Bearer realm="http://parity.example.com{path}", error="invalid_token"'
        )


# Item 5 beyond Authorization: explicit locations of every kind (fromHeaders, fromParams, fromCookies)
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
        for name in ("authorization", "x-token", "cookie", "x-jwt-payload"):
            assert seen_meshgate.upstream(name) == seen_envoy.upstream(name), name
        return
    if envoy == 200:  # Envoy forwards; meshgate refuses
        seen_envoy, seen_meshgate = rig.ask("explicit", "GET", path, headers)
        assert seen_envoy.status == 200
        assert (seen_meshgate.status, seen_meshgate.body, seen_meshgate.target) == (401, meshgate, None)
        return
    compare(rig, "explicit", path, headers, envoy, meshgate)


# header_map_impl: which request headers Envoy keeps inline (repeated lines joined into one token entry)
JOINED = ["authorization", "user-agent", "referer", "via", "accept", "accept-encoding", "cache-control",
          "content-encoding", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range",
          "origin", "pragma", "access-control-request-headers", "access-control-request-method",
          "grpc-accept-encoding", "x-client-trace-id", "x-forwarded-host", "expect", "grpc-timeout",
          "content-type", "proxy-status"]  # fmt: skip
SEPARATE = ["proxy-authorization", "x-token", "x-jwt-assertion", "forwarded", "etag", "last-modified", "vary"]


@pytest.fixture(scope="module")
def headers_rig() -> Iterator[ParityRig]:
    """One listener per header name, each reading a token from that header (no prefix)."""
    configs = {
        name: request_authentication(f"    fromHeaders: [{{name: {name}}}]\n") + DENY_ANONYMOUS
        for name in JOINED + SEPARATE
    }
    rig = ParityRig(configs).start()
    yield rig
    rig.stop()


@pytest.mark.parametrize("name", JOINED + SEPARATE)
def test_repeated_header_lines(headers_rig: ParityRig, name: str) -> None:
    """Two lines holding the same valid token: one entry `T,T` (bad format) for an inline header, else two."""
    seen_envoy, seen_meshgate = headers_rig.ask(name, "GET", "/p", [(name, T), (name, T)])
    if name in JOINED:
        assert (seen_envoy.status, seen_envoy.body) == (401, BAD_FORMAT)
    else:
        assert (seen_envoy.status, seen_envoy.target) == (200, "/p")
    assert seen_meshgate.client_view() == seen_envoy.client_view()
