"""What the token parity modules share: Envoy's messages, the sample tokens, and one comparison.

`compare` asserts a row of the form (headers, Envoy's answer, meshgate's when it differs): `envoy` is 200 or
the body Envoy 1.40 answers (asserted, so the table stays a record of Envoy); `meshgate` None means "the
same" — status, body, `www-authenticate`, upstream target and token headers — else the body of meshgate's
401 refusal (docs/security.md).
"""

from __future__ import annotations

from tests.parity.configs import DEMO_JWT
from tests.support.jws_craft import ISSUER, forge, json_text, sign_claims_text
from tests.support.parity import HOST, ParityRig

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
TOKEN_HEADERS = ("authorization", "x-token", "cookie", "x-jwt-payload")
OTHER_ISSUER = sign_claims_text(json_text({"iss": "other@example.com", "sub": "x", "exp": 4685989700}))


def bearer(*tokens: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {t}") for t in tokens]


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
        for name in TOKEN_HEADERS:
            assert seen_meshgate.upstream(name) == seen_envoy.upstream(name), name
    else:  # safer: refused, with Envoy's layout of a JWT refusal
        assert (seen_meshgate.status, seen_meshgate.body, seen_meshgate.target) == (401, meshgate, None)
        assert seen_meshgate.www_authenticate == f'Bearer realm="http://{HOST}{path}", error="invalid_token"'
