"""meshgate's safe answers on compact JWS (docs/security.md "JWS"), refused now or after Envoy's checks.

"after": Envoy (jwt.cc, absl base64, protobuf JSON) parses the token, and the authenticator refuses it only
once Envoy's own checks passed (so Envoy's answer wins where it refuses too: tests/authn/
test_authn_refusals.py). "now": refused at parse, as Envoy refuses the same bytes (`envoy-too`, asked of
Envoy 1.40 in tests/parity/test_spelling.py) or for a size bound Envoy does not have.
"""

from __future__ import annotations

import pytest
from tests.jose.test_jws import tok

from meshgate.jose.b64 import MAX_NUMBER_CHARS, MAX_TOKEN_JSON_DEPTH
from meshgate.jose.jws import ParsedJwt, parse_jwt
from meshgate.jose.status import JwtStatus as S

H, P, SG = tok(payload={"iss": "i"}).split(".")
NESTED = {"alg": "RS256", "cty": "JWT"}


def outcome(token: str) -> tuple[S, str]:
    """(status, when): "now" when parse_jwt refuses, "after" for a refusal kept until Envoy's checks pass."""
    parsed = parse_jwt(token)
    if isinstance(parsed, S):
        return parsed, "now"
    assert parsed.refusal is not None, "parsed without a refusal"
    return parsed.refusal, "after"


@pytest.mark.parametrize(
    ("token", "status", "when"),
    [
        pytest.param(f".{H}..{P}.{SG}.", S.JWT_BAD_FORMAT, "after", id="extra-empty-pieces-envoy-skips"),
        pytest.param(f"{H}..{P}.{SG}", S.JWT_BAD_FORMAT, "after", id="empty-middle-piece"),
        pytest.param(f"{H}.{P}.{SG}.", S.JWT_BAD_FORMAT, "after", id="trailing-dot"),
        pytest.param(f"{H}.{P}.{SG}.{SG}.{SG}", S.JWT_BAD_FORMAT, "now", id="envoy-too-jwe-five-segments"),
        pytest.param(f"{H}.{P}.", S.JWT_BAD_FORMAT, "now", id="envoy-too-alg-none-style-empty-signature"),
        pytest.param(f"{H}=.{P}.{SG}", S.JWT_HEADER_PARSE_ERROR_BAD_BASE64, "after", id="header-padding"),
        pytest.param(
            f"{H}==.{P}.{SG}", S.JWT_HEADER_PARSE_ERROR_BAD_BASE64, "now", id="envoy-too-header-pads"
        ),
        pytest.param(
            f"{H}.{P}=.{SG}", S.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64, "now", id="envoy-too-pad-after-quantum"
        ),
        pytest.param(f"{H}.{P}.{SG}=", S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64, "now", id="envoy-too-sig-pad"),
        pytest.param(
            f"{H}.{P}.{SG}AA==", S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64, "after", id="signature-padding"
        ),
        pytest.param(
            f"{H}.{P} .{SG}", S.JWT_PAYLOAD_PARSE_ERROR_BAD_BASE64, "after", id="whitespace-absl-skips"
        ),
        pytest.param(
            f"{H}.{P}.QR", S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64, "after", id="nonzero-trailing-bits"
        ),
        pytest.param(
            f"{H}.{P}.a/b+", S.JWT_SIGNATURE_PARSE_ERROR_BAD_BASE64, "now", id="envoy-too-std-alphabet"
        ),
        pytest.param(
            f"{H[:4]}!{H[4:]}.{P}.{SG}", S.JWT_HEADER_PARSE_ERROR_BAD_BASE64, "now", id="envoy-too-stray"
        ),
        pytest.param(
            tok(header={"alg": "RS256", "crit": ["exp"]}),
            S.JWT_HEADER_PARSE_ERROR_BAD_JSON,
            "after",
            id="crit",
        ),
        pytest.param(
            tok(header={"alg": "RS256", "crit": []}),
            S.JWT_HEADER_PARSE_ERROR_BAD_JSON,
            "after",
            id="crit-empty",
        ),
        pytest.param(
            tok(header={"alg": "RS256", "b64": False, "crit": ["b64"]}),
            S.JWT_HEADER_PARSE_ERROR_BAD_JSON,
            "after",
            id="crit-b64-rfc7797",
        ),
        pytest.param(tok(header=NESTED), S.JWT_HEADER_PARSE_ERROR_BAD_JSON, "after", id="nested-cty-JWT"),
        pytest.param(
            tok(header={"alg": "RS256", "cty": "application/jwt"}),
            S.JWT_HEADER_PARSE_ERROR_BAD_JSON,
            "after",
            id="nested-cty-application-jwt",
        ),
        pytest.param(
            tok(header='{"alg":"RS256","alg":"none"}'),
            S.JWT_HEADER_PARSE_ERROR_BAD_JSON,
            "now",
            id="envoy-too-dup-header",
        ),
        pytest.param(
            tok(payload='{"sub":"a","sub":"admin"}'),
            S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON,
            "now",
            id="envoy-too-dup-claim",
        ),
        pytest.param(
            tok(payload='{"x":{"a":1,"a":2}}'),
            S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON,
            "now",
            id="envoy-too-dup-nested",
        ),
        pytest.param(
            tok(payload='{"a":' + "[" * MAX_TOKEN_JSON_DEPTH + "]" * MAX_TOKEN_JSON_DEPTH + "}"),
            S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON,
            "now",
            id="payload-deeper-than-32",
        ),
        pytest.param(
            tok(payload='{"n":' + "9" * (MAX_NUMBER_CHARS + 1) + "}"),
            S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON,
            "now",
            id="long-integer",
        ),
        pytest.param(
            tok(payload='{"n":0.' + "1" * MAX_NUMBER_CHARS + "}"),
            S.JWT_PAYLOAD_PARSE_ERROR_BAD_JSON,
            "now",
            id="long-float",
        ),
        pytest.param(tok(payload={"exp": 0}), S.JWT_EXPIRED, "after", id="exp-0-envoy-never-expires"),
        pytest.param(tok(payload={"exp": 0.5}), S.JWT_EXPIRED, "after", id="exp-0.5-truncates-to-0"),
        pytest.param(tok(payload='{"exp":-0.0}'), S.JWT_EXPIRED, "after", id="exp-minus-0"),
        pytest.param(
            tok(payload={"exp": True}),
            S.JWT_PAYLOAD_PARSE_ERROR_EXP_NOT_INTEGER,
            "now",
            id="envoy-too-exp-true",
        ),
        pytest.param(
            tok(payload={"exp": "4685989700"}),
            S.JWT_PAYLOAD_PARSE_ERROR_EXP_NOT_INTEGER,
            "now",
            id="envoy-too-exp-str",
        ),
        pytest.param(
            tok(payload={"exp": [1]}),
            S.JWT_PAYLOAD_PARSE_ERROR_EXP_NOT_INTEGER,
            "now",
            id="envoy-too-exp-list",
        ),
        pytest.param(
            tok(payload={"exp": 2**64}),
            S.JWT_PAYLOAD_PARSE_ERROR_EXP_OUT_OF_RANGE,
            "now",
            id="envoy-too-exp-2^64",
        ),
        pytest.param(
            tok(payload={"exp": -1}),
            S.JWT_PAYLOAD_PARSE_ERROR_EXP_OUT_OF_RANGE,
            "now",
            id="envoy-too-exp-neg",
        ),
        pytest.param("A" * (16 * 1024 + 1), S.JWT_BAD_FORMAT, "now", id="over-16KiB"),
    ],
)
def test_safe_parse_status(token: str, status: S, when: str) -> None:
    assert outcome(token) == (status, when)


def test_refused_tokens_are_parsed_as_envoy_parses_them() -> None:
    """The parse behind a refusal is Envoy's: segments without the skipped empty ones, absl's bytes."""
    parsed = parse_jwt(f".{H}..{P} .{SG}AA==")
    assert isinstance(parsed, ParsedJwt) and parsed.refusal is S.JWT_BAD_FORMAT  # the first refusal
    assert parsed.signing_input == f"{H}.{P} ".encode()  # verify.cc: header + "." + payload as kept
    assert parsed.iss == "i" and parsed.signature == b"signature\x00"
