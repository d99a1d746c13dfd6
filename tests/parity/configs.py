"""Istio resources the parity modules give to Envoy and to meshgate alike (namespace `default`, no selector).

Istio's sample issuer and key set (src/meshgate/data, = istio/istio:security/tools/jwt/samples), inline.
"""

from __future__ import annotations

import json

from tests.support.jws_craft import ISSUER
from tests.support.samples import SAMPLES

SAMPLE_JWKS = (SAMPLES / "jwks.json").read_text()
DEMO_JWT = (SAMPLES / "demo.jwt").read_text().strip()

DENY_ANONYMOUS = """
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-anonymous, namespace: default}
spec:
  action: DENY
  rules:
  - from:
    - source: {notRequestPrincipals: ["*"]}
"""


def request_authentication(extra: str = "") -> str:
    """RequestAuthentication `jwt` with one rule for Istio's sample issuer; `extra` adds rule fields."""
    rule = f"  - issuer: {ISSUER}\n    jwks: {json.dumps(SAMPLE_JWKS)}\n" + extra
    return (
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
        "metadata: {name: jwt, namespace: default}\nspec:\n  jwtRules:\n" + rule
    )


# The seed shape: default locations (Authorization `Bearer `, `?access_token=`), DENY without a principal.
SEED = request_authentication() + DENY_ANONYMOUS
# forwardOriginalToken: the token stays on the request.
FORWARD = request_authentication("    forwardOriginalToken: true\n") + DENY_ANONYMOUS
# Explicit locations of every kind (the defaults are then not read).
EXPLICIT = (
    request_authentication(
        "    fromHeaders:\n"
        "    - {name: authorization, prefix: 'Bearer '}\n"
        "    - {name: x-token}\n"
        "    fromParams: [tk]\n"
        "    fromCookies: [session]\n"
        "    outputPayloadToHeader: x-jwt-payload\n"
    )
    + DENY_ANONYMOUS
)
