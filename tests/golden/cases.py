"""The golden decision table: one row per behaviour, the Envoy answer it must produce, and its source.

Every front (the engine directly, `serve`, the ext_authz servers, `check`) runs this same table and
must give identical answers. Resources use Istio's sample JWKS inline so no row needs the network.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.golden.crafted import (
    FORGED_DEMO,
    FRACTIONAL_EXP_JWT,
    PADDED_HEADER_JWT,
    PAST_FRACTIONAL_EXP_JWT,
    STD_ALPHABET_HEADER_JWT,
)

from meshgate.jose.mint import generate_key, sign_token

DATA = Path(__file__).resolve().parents[2] / "src" / "meshgate" / "data"
SAMPLE_JWKS = (DATA / "jwks.json").read_text()
SAMPLE_KEY = (DATA / "key.pem").read_bytes()
DEMO_JWT = (DATA / "demo.jwt").read_text().strip()
GROUPS_JWT = (DATA / "groups-scope.jwt").read_text().strip()
ISSUER = "testing@secure.istio.io"
NOW = int(time.time())

# A second, unrelated key: "another issuer" tokens are signed with it.
_OTHER_PEM, _ = generate_key("ES256")


def sample_token(**claims: object) -> str:
    body: dict[str, object] = {"iss": ISSUER, "sub": ISSUER, "iat": NOW, "exp": NOW + 3600}
    body.update(claims)
    return sign_token(SAMPLE_KEY, {k: v for k, v in body.items() if v is not None})


OTHER_ISSUER_JWT = sign_token(_OTHER_PEM, {"iss": "someone@else.example", "sub": "x", "exp": NOW + 3600})

SEED_YAML = f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  jwtRules:
  - issuer: "{ISSUER}"
    jwks: {json.dumps(SAMPLE_JWKS)}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: frontend-ingress
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  action: DENY
  rules:
  - from:
    - source:
        notRequestPrincipals: ["*"]
"""

CLAIMS_YAML = f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: istio-system}}
spec:
  jwtRules:
  - issuer: "{ISSUER}"
    jwks: {json.dumps(SAMPLE_JWKS)}
    outputPayloadToHeader: x-jwt-payload
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: require-group, namespace: istio-system}}
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: ["{ISSUER}/{ISSUER}"]
    when:
    - key: request.auth.claims[groups]
      values: ["group1"]
"""

AUDIENCE_YAML = f"""
apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata: {{name: jwt-aud, namespace: istio-system}}
spec:
  jwtRules:
  - issuer: "{ISSUER}"
    audiences: ["bookstore.example.com"]
    jwks: {json.dumps(SAMPLE_JWKS)}
"""

PATHS_YAML = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin", "/admin/*"]
  - to:
    - operation:
        hosts: ["secret.example.com"]
        methods: ["POST"]
  - from:
    - source:
        ipBlocks: ["127.0.0.2/32"]
  - when:
    - key: request.headers[x-block]
      values: ["yes"]
"""

CUSTOM_UNDECLARED_YAML = f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: istio-system}}
spec:
  jwtRules:
  - issuer: "{ISSUER}"
    jwks: {json.dumps(SAMPLE_JWKS)}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: ext, namespace: istio-system}}
spec:
  action: CUSTOM
  provider:
    name: not-in-the-mesh-config
  rules:
  - to:
    - operation:
        paths: ["/ext/*"]
"""


@dataclass(frozen=True)
class GoldenCase:
    name: str
    source: str  # where the expected behaviour comes from
    config: str
    status: int
    body: str = ""
    method: str = "GET"
    path: str = "/"
    host: str = "frontend.example.com"
    headers: tuple[tuple[str, str], ...] = ()
    token: str | None = None
    source_ip: str = "127.0.0.1"
    www_authenticate: str | None = None
    upstream_path: str | None = None
    upstream_set: dict[str, str] = field(default_factory=dict)
    # What Envoy forwards when meshgate is its HTTP-mode ext_authz service, where it differs: that protocol
    # cannot edit the query, so a token parameter stays (docs/security.md "Where meshgate answers differently").
    upstream_path_http_ext_authz: str | None = None

    @property
    def request_headers(self) -> tuple[tuple[str, str], ...]:
        extra = (("authorization", f"Bearer {self.token}"),) if self.token else ()
        return (("host", self.host), *self.headers, *extra)


def _realm(path: str = "/", host: str = "frontend.example.com") -> str:
    return f'Bearer realm="http://{host}{path}", error="invalid_token"'


PARITY = "asked of Envoy 1.40 in tests/parity/"


BAD_FORMAT = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
SEED_DOC = "istio.io authz-jwt / authn-policy ingress task; docs/istio-semantics.md §1, §3.4"

CASES: tuple[GoldenCase, ...] = (
    GoldenCase("seed: no token", SEED_DOC, SEED_YAML, 403, "RBAC: access denied"),
    GoldenCase(
        "seed: token of another issuer",
        SEED_DOC,
        SEED_YAML,
        401,
        "Jwt issuer is not configured",
        token=OTHER_ISSUER_JWT,
        www_authenticate=_realm(),
    ),
    GoldenCase("seed: demo.jwt allowed", SEED_DOC, SEED_YAML, 200, token=DEMO_JWT, upstream_path="/"),
    GoldenCase(
        "seed: malformed token",
        "jwt_verify_lib jwt.cc JwtBadFormat",
        SEED_YAML,
        401,
        BAD_FORMAT,
        token="invalidToken",
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "seed: expired token (beyond 60 s skew)",
        "jwt.cc verifyTimeConstraint",
        SEED_YAML,
        401,
        "Jwt is expired",
        token=sample_token(exp=NOW - 120),
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "seed: lower-case bearer is no token",
        "extractor.cc case-sensitive prefix",
        SEED_YAML,
        403,
        "RBAC: access denied",
        headers=(("authorization", f"bearer {DEMO_JWT}"),),
    ),
    GoldenCase(
        "seed: token in access_token query param",
        "extractor.cc default param; JwtParamLocation::removeJwt (forwardOriginalToken false)",
        SEED_YAML,
        200,
        path=f"/headers?access_token={DEMO_JWT}",
        upstream_path="/headers",
        upstream_path_http_ext_authz=f"/headers?access_token={DEMO_JWT}",
    ),
    GoldenCase(
        "seed: access_token removed, other parameters kept in order",
        f"removeJwt; {PARITY}test_query_token.py",
        SEED_YAML,
        200,
        path=f"/headers?x=1&access_token={DEMO_JWT}&y=2",
        upstream_path="/headers?x=1&y=2",
        upstream_path_http_ext_authz=f"/headers?x=1&access_token={DEMO_JWT}&y=2",
    ),
    GoldenCase(
        "seed: fractional exp in the future is accepted",
        f"struct_utils.cc GetUInt64 truncates; {PARITY}test_numeric_dates.py",
        SEED_YAML,
        200,
        token=FRACTIONAL_EXP_JWT,
        upstream_path="/",
    ),
    GoldenCase(
        "seed: fractional exp in the past is expired",
        f"jwt.cc verifyTimeConstraint; {PARITY}test_numeric_dates.py",
        SEED_YAML,
        401,
        "Jwt is expired",
        token=PAST_FRACTIONAL_EXP_JWT,
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "seed: standard-alphabet header segment",
        f"absl WebSafeBase64Unescape; {PARITY}test_spelling.py",
        SEED_YAML,
        401,
        "Jwt header is an invalid Base64url encoded",
        token=STD_ALPHABET_HEADER_JWT,
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "seed: padded header segment (Envoy: 200)",
        f"RFC 7515 §2, docs/security.md one spelling; {PARITY}test_spelling.py",
        SEED_YAML,
        401,
        "Jwt header is an invalid Base64url encoded",
        token=PADDED_HEADER_JWT,
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "seed: padded signature (Envoy: 200)",
        f"RFC 7515 §2, docs/security.md one spelling; {PARITY}test_spelling.py",
        SEED_YAML,
        401,
        "Jwt signature is an invalid Base64url encoded",
        token=DEMO_JWT + "==",
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "seed: two Authorization lines, valid then forged",
        f"header_map_impl joins inline headers, extractor.cc reads to the end; {PARITY}test_repeated_tokens.py",
        SEED_YAML,
        401,
        BAD_FORMAT,
        headers=(("authorization", f"Bearer {DEMO_JWT}"),),
        token=FORGED_DEMO,
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "seed: access_token valid then forged (Envoy: 200)",
        f"docs/security.md More than one token; {PARITY}test_repeated_tokens.py",
        SEED_YAML,
        401,
        "Jwt verification fails",
        path=f"/?access_token={DEMO_JWT}&access_token={FORGED_DEMO}",
        www_authenticate=_realm(f"/?access_token={DEMO_JWT}&access_token={FORGED_DEMO}"[:256]),
    ),
    GoldenCase(
        "seed: tampered signature",
        "verify.cc JwtVerificationFail",
        SEED_YAML,
        401,
        "Jwt verification fails",
        token=DEMO_JWT[:-6] + ("AAAAAA" if not DEMO_JWT.endswith("AAAAAA") else "BBBBBB"),
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "seed: realm carries the normalized path and query",
        "filter.cc realm",
        SEED_YAML,
        401,
        "Jwt issuer is not configured",
        path="/a/../b?x=1",
        token=OTHER_ISSUER_JWT,
        www_authenticate=_realm("/b?x=1"),
    ),
    GoldenCase(
        "claims: groups-scope.jwt has group1",
        "istio.io authz-jwt",
        CLAIMS_YAML,
        200,
        token=GROUPS_JWT,
        upstream_path="/",
        upstream_set={"x-jwt-payload": GROUPS_JWT.split(".")[1]},
    ),
    GoldenCase(
        "claims: demo.jwt lacks groups",
        "istio.io authz-jwt",
        CLAIMS_YAML,
        403,
        "RBAC: access denied",
        token=DEMO_JWT,
    ),
    GoldenCase(
        "claims: no token, ALLOW policy unmatched",
        "rbac ALLOW engine",
        CLAIMS_YAML,
        403,
        "RBAC: access denied",
    ),
    GoldenCase(
        "audience: token without aud is 403",
        "check_audience.cc; filter.cc aud → 403",
        AUDIENCE_YAML,
        403,
        "Audiences in Jwt are not allowed",
        token=DEMO_JWT,
        www_authenticate=_realm(),
    ),
    GoldenCase(
        "audience: https:// and trailing / are sanitized",
        "check_audience.cc",
        AUDIENCE_YAML,
        200,
        token=sample_token(aud="https://bookstore.example.com/"),
        upstream_path="/",
    ),
    GoldenCase(
        "paths: DENY /admin", "rbac path prefix", PATHS_YAML, 403, "RBAC: access denied", path="/admin"
    ),
    GoldenCase(
        "paths: DENY /admin/*",
        "rbac path prefix",
        PATHS_YAML,
        403,
        "RBAC: access denied",
        path="/admin/users?x=1",
    ),
    GoldenCase(
        "paths: dot segments cannot climb into /admin",
        "Envoy normalize_path (CVE-2019-9901)",
        PATHS_YAML,
        403,
        "RBAC: access denied",
        path="/public/../admin",
    ),
    GoldenCase(
        "paths: %2e%2e is a dot segment",
        "path_utility_test.cc",
        PATHS_YAML,
        403,
        "RBAC: access denied",
        path="/public/%2e%2e/admin",
    ),
    GoldenCase(
        "paths: other path allowed",
        "no ALLOW policy → allow",
        PATHS_YAML,
        200,
        path="/public",
        upstream_path="/public",
    ),
    GoldenCase(
        "paths: %00 is 400", "conn_manager_utility.cc normalize failure", PATHS_YAML, 400, "", path="/a%00b"
    ),
    GoldenCase(
        "hosts: case-insensitive",
        "CVE-2021-39155",
        PATHS_YAML,
        403,
        "RBAC: access denied",
        method="POST",
        host="SECRET.example.com",
    ),
    GoldenCase(
        "hosts: GET to the secret host allowed",
        "operation AND",
        PATHS_YAML,
        200,
        host="secret.example.com",
        upstream_path="/",
    ),
    GoldenCase(
        "ipBlocks: peer in CIDR denied",
        "rbac direct_remote_ip",
        PATHS_YAML,
        403,
        "RBAC: access denied",
        source_ip="127.0.0.2",
    ),
    GoldenCase(
        "when: request.headers",
        "rbac header matcher",
        PATHS_YAML,
        403,
        "RBAC: access denied",
        headers=(("x-block", "yes"),),
    ),
    GoldenCase(
        "custom: undeclared provider denies before jwt_authn",
        "builder.go bad CUSTOM → deny rules; §1.3.4 order",
        CUSTOM_UNDECLARED_YAML,
        403,
        "RBAC: access denied",
        path="/ext/a",
        token="invalidToken",
    ),
    GoldenCase(
        "custom: elsewhere jwt_authn still answers",
        "§1.3.4 filter order",
        CUSTOM_UNDECLARED_YAML,
        401,
        BAD_FORMAT,
        path="/other",
        token="invalidToken",
        www_authenticate=_realm("/other"),
    ),
)
