"""RequestAuthentication validation: istiod's exact messages, CRD constraints, each at its line.

Sources: istio/istio pkg/config/validation/validation.go (ValidateRequestAuthentication,
validateJwtRule, validateWorkloadSelector, validatePolicyTargetReference; these errors carry no
prefix), istio/api kubernetes/customresourcedefinitions.gen.yaml (CEL rules), docs/istio-semantics.md §6.
The spec snippet starts at line 7 (tests/config/helpers.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.config.helpers import problems

RA = "RequestAuthentication"
SAMPLE_JWKS = (Path(__file__).resolve().parents[2] / "src/meshgate/data/jwks.json").read_text()
_SAMPLE_KEY = json.loads(SAMPLE_JWKS)["keys"][0]
PRIVATE_JWKS = json.dumps({"keys": [_SAMPLE_KEY, {**_SAMPLE_KEY, "kid": "private", "d": "AQAB"}]})

ROWS = [
    pytest.param(
        """
        selector:
          matchLabels:
            istio: ingressgateway
        jwtRules:
        - issuer: "testing@secure.istio.io"
          jwksUri: https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json
        """,
        [],
        id="seed-valid",
    ),
    pytest.param(
        """
        jwtRules:
        - jwksUri: https://example.com/jwks.json
        """,
        [],
        id="issuer-optional-with-jwksUri-1.27",
    ),
    pytest.param(
        """
        jwtRules:
        - audiences: [a]
        """,
        [(8, "issuer or jwksUri must be non-empty string", False)],
        id="issuer-or-jwksUri-at-rule-line",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          audiences:
          - ok
          - ""
        """,
        [(11, "audience must be non-empty string", False)],
        id="empty-audience-at-item-line",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          jwksUri: ftp://example.com/jwks
        """,
        [(9, "url must have scheme http:// or https://", False)],
        id="crd-jwksUri-scheme",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          jwks_uri: file:///etc/jwks.json
        """,
        [],
        id="file-scheme-meshgate-extension-and-proto-name",
    ),
    pytest.param(
        f"""
        jwtRules:
        - issuer: a
          jwksUri: https://example.com/jwks
          jwks: {json.dumps(SAMPLE_JWKS)}
        """,
        [(10, "only one of jwks or jwksUri can be set", False)],
        id="crd-jwks-xor-jwksUri",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          jwks: "not json"
        """,
        [(9, "jwks parse error: Jwks is an invalid JSON", False)],
        id="inline-jwks-parse-error",
    ),
    pytest.param(
        f"""
        jwtRules:
        - issuer: a
          jwks: {json.dumps(PRIVATE_JWKS)}
        """,
        [
            (
                9,
                "jwks key at index 1 contains private key material; "
                "only public keys are used for verification",
                True,
            )
        ],
        id="inline-jwks-private-key-warning",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          fromHeaders:
          - name: x-jwt
            prefix: "Bearer "
          - name: ""
          - null
          fromParams: ["", ok]
          fromCookies: [""]
        """,
        [
            (12, "location header name must be non-empty string", False),
            (13, "location header name must be non-null", False),
            (14, "location query must be non-empty string", False),
            (15, "cookie name must be non-empty string", False),
        ],
        id="token-locations",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          outputClaimToHeaders:
          - header: x-sub
            claim: sub
          - header: ""
            claim: sub
          - header: "x sub"
            claim: sub
          - null
        """,
        [
            (12, "outputClaimToHeaders header and claim value must be non-empty string", False),
            (14, "header name x sub is not a valid header name", False),
            (16, "outputClaimToHeaders must not be null", False),
        ],
        id="output-claim-to-headers",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          timeout: 1.5s
        - issuer: b
          timeout: 300ms
        - issuer: c
          timeout: 1m
        """,
        [],
        id="timeout-go-durations",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          timeout: 500us
        - issuer: b
          timeout: soon
        - issuer: c
          timeout: 1500100us
        """,
        [
            (9, "must be a valid duration greater than 1ms", False),
            (11, "must be a valid duration greater than 1ms", False),
            (13, "only durations to ms precision are supported", False),
        ],
        id="timeout-crd-and-ms-precision",
    ),
    pytest.param(
        """
        selector: {}
        """,
        [(7, "workload selector specified without labels", True)],
        id="selector-without-labels-warning",
    ),
    pytest.param(
        """
        selector:
          matchLabels:
            app: "web*"
        """,
        [(9, 'wildcard is not supported in selector: "app=web*"', False)],
        id="selector-wildcard",
    ),
    pytest.param(
        """
        selector:
          matchLabels:
            app: web
        targetRefs:
        - kind: Gateway
          group: gateway.networking.k8s.io
          name: gw
        """,
        [(10, "only one of targetRefs or workloadSelector can be set", False)],
        id="selector-xor-targetRefs",
    ),
    pytest.param(
        """
        targetRef:
          kind: Deployment
          name: web
          namespace: other
        """,
        [
            (
                7,
                "targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry "
                "gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] "
                "but was /Deployment",
                False,
            ),
            (10, "targetRef namespace must not be set; cross namespace referencing is not supported", False),
        ],
        id="targetRef-kind-and-namespace",
    ),
    pytest.param(
        "targetRefs:\n" + "- {kind: Service, name: s}\n" * 17,
        [(7, "spec.targetRefs: Too many: 17: must have at most 16 items", False)],
        id="crd-targetRefs-max-16",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          issuers: [b]
        """,
        [(9, 'unknown field "issuers" in JWTRule', False)],
        id="unknown-field-strict-decoding",
    ),
    pytest.param(
        """
        jwtRules:
        - issuer: a
          audiences: one
          forwardOriginalToken: "yes"
        """,
        [
            (9, "invalid type for spec.jwtRules[0].audiences: expected array, got string", False),
            (
                10,
                "invalid type for spec.jwtRules[0].forwardOriginalToken: expected boolean, got string",
                False,
            ),
        ],
        id="wrong-types",
    ),
    pytest.param(
        """
        jwt_rules:
        - issuer: a
          from_headers:
          - name: x
          output_payload_to_header: x-payload
          space_delimited_claims: [scope]
        """,
        [],
        id="proto-field-names-accepted",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), ROWS)
def test_request_authentication_validation(spec: str, expected: list[tuple[int, str, bool]]) -> None:
    assert problems(RA, spec) == expected
