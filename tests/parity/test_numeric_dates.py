"""Against a real Envoy 1.40: NumericDates with a fraction, and every edge of GetUInt64.

struct_utils.cc GetUInt64 reads `iat`/`nbf`/`exp` as a protobuf double: a JSON number in [0, 2^64) is
truncated toward zero, a negative one or 2^64 and beyond is "not a positive 64 bit integer", anything else
"not an integer"; jwt.cc checks nbf then exp with a 60 s skew, and never iat. Each token is correctly
signed over exactly its payload text, so only the claim decides; both must give the same answer.
One deliberate difference stays (jws.py, docs/security.md): `exp` that truncates to 0 — Envoy reads
"never expires", meshgate `Jwt is expired`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.parity.configs import SEED
from tests.support.jws_craft import ISSUER, sign_claims_text
from tests.support.parity import ParityRig, Seen

FAR = 4685989700  # demo.jwt's exp; times near "now" are computed when each test runs


@pytest.fixture(scope="module")
def rig() -> Iterator[ParityRig]:
    rig = ParityRig({"seed": SEED}).start()
    yield rig
    rig.stop()


def ask(rig: ParityRig, claim: str, literal: str) -> tuple[Seen, Seen]:
    exp = "" if claim == "exp" else f',"exp":{FAR}'
    token = sign_claims_text(f'{{"iss":"{ISSUER}","sub":"{ISSUER}","{claim}":{literal}{exp}}}')
    return rig.ask("seed", "GET", "/", [("authorization", f"Bearer {token}")])


OUT = "field is not a positive 64 bit integer"
NOT_INT = "field is not an integer"
# (claim, seconds from now, fraction, Envoy's answer: 200 or the body)
RELATIVE = [
    ("exp", 3600, ".5", 200),
    ("exp", 30, ".5", 200),
    ("exp", -59, ".5", 200),  # truncated to now-59: inside the 60 s skew
    ("exp", -61, ".999", "Jwt is expired"),  # truncated to now-61
    ("exp", -120, ".9", "Jwt is expired"),
    ("nbf", 3600, ".5", "Jwt not yet valid"),
    ("nbf", 59, ".9", 200),  # truncated to now+59: inside the skew
    ("nbf", -5, ".5", 200),
    ("iat", 0, ".5", 200),
]
# (claim, literal, Envoy's answer)
ABSOLUTE = [
    ("exp", f"{FAR}.5", 200),
    ("exp", "1e10", 200),
    ("exp", "1E10", 200),
    ("exp", "1.5e9", "Jwt is expired"),
    ("exp", "1e19", 200),
    ("exp", "18446744073709549568", 200),  # the largest double below 2^64
    ("exp", "1.8446744073709552e19", f"Jwt payload [exp] {OUT}"),  # == 2^64
    ("exp", "2e19", f"Jwt payload [exp] {OUT}"),
    ("exp", "-0.5", f"Jwt payload [exp] {OUT}"),
    ("exp", "-1e-300", f"Jwt payload [exp] {OUT}"),
    ("exp", "-1", f"Jwt payload [exp] {OUT}"),
    ("exp", "true", f"Jwt payload [exp] {NOT_INT}"),
    ("exp", '"1"', f"Jwt payload [exp] {NOT_INT}"),
    ("exp", "null", f"Jwt payload [exp] {NOT_INT}"),
    ("exp", "[1]", f"Jwt payload [exp] {NOT_INT}"),
    ("nbf", "0.5", 200),
    ("nbf", "-0.0", 200),
    ("nbf", "1e10", "Jwt not yet valid"),
    ("nbf", "-0.5", f"Jwt payload [nbf] {OUT}"),
    ("nbf", "2e19", f"Jwt payload [nbf] {OUT}"),
    ("nbf", "{}", f"Jwt payload [nbf] {NOT_INT}"),
    ("iat", "1e19", 200),  # never compared with the clock
    ("iat", "-0.5", f"Jwt payload [iat] {OUT}"),
    ("iat", "2e19", f"Jwt payload [iat] {OUT}"),
    ("iat", '"now"', f"Jwt payload [iat] {NOT_INT}"),
]


def check(rig: ParityRig, claim: str, literal: str, envoy: int | str) -> None:
    seen_envoy, seen_meshgate = ask(rig, claim, literal)
    if envoy == 200:
        assert (seen_envoy.status, seen_envoy.target) == (200, "/")
    else:
        assert (seen_envoy.status, seen_envoy.body) == (401, envoy)
    assert seen_meshgate.client_view() == seen_envoy.client_view()
    assert seen_meshgate.target == seen_envoy.target


@pytest.mark.parametrize(("claim", "offset", "fraction", "envoy"), RELATIVE, ids=str)
def test_numeric_date_near_now(
    rig: ParityRig, claim: str, offset: int, fraction: str, envoy: int | str
) -> None:
    check(rig, claim, f"{int(time.time()) + offset}{fraction}", envoy)


@pytest.mark.parametrize(("claim", "literal", "envoy"), ABSOLUTE, ids=str)
def test_numeric_date(rig: ParityRig, claim: str, literal: str, envoy: int | str) -> None:
    check(rig, claim, literal, envoy)


@pytest.mark.parametrize("literal", ["0", "0.0", "0.5", "-0.0", "1e-300"])
def test_exp_zero_is_expired_where_envoy_reads_never_expires(rig: ParityRig, literal: str) -> None:
    """Deliberate (docs/security.md): Envoy 1.40 treats an `exp` truncating to 0 as no expiry (200)."""
    seen_envoy, seen_meshgate = ask(rig, "exp", literal)
    assert seen_envoy.status == 200
    assert (seen_meshgate.status, seen_meshgate.body) == (401, "Jwt is expired")
    assert seen_meshgate.target is None
