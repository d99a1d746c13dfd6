"""Against a real Envoy 1.40: how a token may be spelled.

Rows with a meshgate answer are spellings Envoy 1.40 lets through (200) and meshgate refuses with that
segment's message (docs/security.md "JWS": one token, one spelling, refused after Envoy's checks); the others
must get Envoy's exact answer — also where Envoy refuses for another reason first. Every token is correctly
signed over exactly its segments, so a refusal is about the spelling, never the signature, unless the row
forges it. The Envoy side of every row is asserted, so the table stays a record of what Envoy does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.parity.common import (
    BAD_FORMAT,
    CLAIMS,
    HEADER_B64,
    HEADER_JSON,
    PAYLOAD_B64,
    PAYLOAD_JSON,
    SIG_B64,
    VERIFY,
    F,
    H,
    P,
    S,
    T,
    bearer,
    compare,
)
from tests.parity.configs import SEED
from tests.support.jws_craft import HEADER, forge, json_text, seg, sign_segments, std_b64
from tests.support.parity import ParityRig

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
    rig = ParityRig({"seed": SEED}).start()
    yield rig
    rig.stop()


# (headers, Envoy's answer: 200 or its body, meshgate's refusal where it differs)
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
    # meshgate's size bounds (docs/security.md "Size and depth limits"); Envoy has only its 60 KiB header limit
    pytest.param(
        bearer(sign_segments(H, seg(json_text({**CLAIMS, "pad": "x" * 17000})))),
        200,
        BAD_FORMAT,
        id="over-16KiB",
    ),
    pytest.param(
        bearer(sign_segments(H, seg(json_text(CLAIMS)[:-1] + ',"d":' + "[" * 40 + "]" * 40 + "}"))),
        200,
        PAYLOAD_JSON,
        id="nested-40",
    ),
    pytest.param(
        bearer(sign_segments(H, seg(json_text(CLAIMS)[:-1] + ',"n":' + "9" * 100 + "}"))),
        200,
        PAYLOAD_JSON,
        id="long-number",
    ),
    pytest.param(
        bearer(sign_segments(H, seg(json_text(CLAIMS)[:-1] + ',"d":' + "[" * 101 + "]" * 101 + "}"))),
        PAYLOAD_JSON,
        None,
        id="nested-101-both",
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


@pytest.mark.parametrize(("headers", "envoy", "meshgate"), SPELLING)
def test_spelling(
    rig: ParityRig, headers: list[tuple[str, str]], envoy: int | str, meshgate: str | None
) -> None:
    compare(rig, "seed", "/p", headers, envoy, meshgate)
