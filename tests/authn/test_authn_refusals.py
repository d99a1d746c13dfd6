"""meshgate's own refusals come after Envoy's checks: where Envoy refuses too, its answer wins.

A token Envoy 1.40 parses but meshgate refuses (jws.py `ParsedJwt.refusal`: a non-canonical spelling, empty
segments, `crit`, `cty: JWT`, `exp: 0`) is verified exactly as Envoy verifies it — issuer, time, audience,
signature — and only when all of that passes does meshgate answer its refusal (docs/security.md "JWS").
Each `envoy` column is what a real Envoy 1.40 answers for the same token (tests/parity/test_spelling.py asks
it). Mutation caught: returning the refusal at parse (the forged rows would say the refusal, not Envoy's).
"""

from __future__ import annotations

import pytest
from tests.authn.test_authn import ISS1, ISS2, JWK1, NOW, PEM1, URI1, req, run
from tests.support.jws_craft import forge, json_text, seg, sign_segments

from meshgate.authn.authenticator import Authenticator
from meshgate.config.model import JwtRule
from meshgate.jose.status import JwtStatus as S

AUTH = Authenticator([JwtRule(issuer=ISS1, jwks_uri=URI1, audiences=("svc",))])
HEADER = {"alg": "RS256", "kid": JWK1["kid"]}
CLAIMS = {"iss": ISS1, "sub": "alice", "aud": "svc", "exp": NOW + 3600}


def signed(header: dict[str, object] | None = None, pad: str = "", **claims: object) -> str:
    """Signed over exactly its segments; `pad` is appended to the header segment (then signed over)."""
    h = seg(json_text(header or HEADER)) + pad
    return sign_segments(h, seg(json_text({**CLAIMS, **claims})), PEM1)


def header_with_remainder(rem: int) -> dict[str, object]:
    """A header whose base64url length leaves `rem` characters in its last quantum (so padding is valid)."""
    for n in range(8):
        header = {**HEADER, "n": "x" * n}
        if len(seg(json_text(header))) % 4 == rem:
            return header
    raise AssertionError(rem)


PADDED = signed(header_with_remainder(2), pad="==")
VALID = signed()
H, P, SIG = VALID.split(".")


@pytest.mark.parametrize(
    ("token", "meshgate", "envoy"),
    [
        pytest.param(PADDED, S.JWT_HEADER_PARSE_ERROR_BAD_BASE64, S.OK, id="padded-header"),
        pytest.param(forge(PADDED), S.JWT_VERIFICATION_FAIL, S.JWT_VERIFICATION_FAIL, id="padded-header-forged"),
        pytest.param(f"{VALID}==", S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64, S.OK, id="padded-signature"),
        pytest.param(f"{H}.{P}.{SIG[:9]} {SIG[9:]}", S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64, S.OK, id="space-in-sig"),
        pytest.param(f"{VALID} junk", S.JWT_VERIFICATION_FAIL, S.JWT_VERIFICATION_FAIL, id="junk-after-token"),
        pytest.param(f"{H}..{P}.{SIG}", S.JWT_BAD_FORMAT, S.OK, id="empty-segment"),
        pytest.param(f".{H}.{P}.{SIG}.", S.JWT_BAD_FORMAT, S.OK, id="outer-dots"),
        pytest.param(forge(f"{H}..{P}.{SIG}"), S.JWT_VERIFICATION_FAIL, S.JWT_VERIFICATION_FAIL, id="empty-forged"),
        pytest.param(signed({**HEADER, "crit": ["b64"]}), S.JWT_HEADER_PARSE_ERROR_BAD_JSON, S.OK, id="crit"),
        pytest.param(signed({**HEADER, "crit": []}, iss=ISS2), S.JWT_UNKNOWN_ISSUER, S.JWT_UNKNOWN_ISSUER,
                     id="crit-unknown-issuer"),
        pytest.param(signed({**HEADER, "cty": "JWT"}, aud="elsewhere"), S.JWT_AUDIENCE_NOT_ALLOWED,
                     S.JWT_AUDIENCE_NOT_ALLOWED, id="nested-wrong-audience"),
        pytest.param(signed(exp=0), S.JWT_EXPIRED, S.OK, id="exp-0"),
        pytest.param(forge(signed(exp=0)), S.JWT_VERIFICATION_FAIL, S.JWT_VERIFICATION_FAIL, id="exp-0-forged"),
        pytest.param(signed(exp=0, nbf=NOW + 3600), S.JWT_NOT_YET_VALID, S.JWT_NOT_YET_VALID, id="exp-0-not-yet"),
        pytest.param(signed(exp=NOW + 0.5), S.OK, S.OK, id="fractional-exp-accepted"),
        pytest.param(signed(exp=NOW - 59.5), S.OK, S.OK, id="fractional-exp-truncated-within-skew"),
        pytest.param(signed(exp=NOW - 60.5), S.JWT_EXPIRED, S.JWT_EXPIRED, id="fractional-exp-truncated-past"),
        pytest.param(signed(nbf=NOW + 60.9), S.OK, S.OK, id="fractional-nbf-truncated"),
        pytest.param(signed(nbf=NOW + 61.5), S.JWT_NOT_YET_VALID, S.JWT_NOT_YET_VALID, id="fractional-nbf-future"),
    ],
)  # fmt: skip
def test_refusal_after_envoys_checks(token: str, meshgate: S, envoy: S) -> None:
    AUTH.result_memo.clear()
    AUTH.verified_tokens.clear()
    result = run(AUTH, req(token))
    assert result.status is meshgate
    if envoy is not S.OK:
        assert meshgate is envoy, "where Envoy refuses, meshgate gives Envoy's answer"


def test_a_refused_token_is_not_cached_as_verified() -> None:
    AUTH.result_memo.clear()
    AUTH.verified_tokens.clear()
    for _ in range(2):
        assert run(AUTH, req(PADDED)).status is S.JWT_HEADER_PARSE_ERROR_BAD_BASE64
    assert len(AUTH.verified_tokens) == 0
