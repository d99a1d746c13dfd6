"""AuthorizationPolicy validation: istiod's exact messages (prefixed `invalid policy <name>.<ns>:`).

Sources: istio/istio pkg/config/validation/validation.go (ValidateAuthorizationPolicy),
pkg/config/security/security.go (ValidateAttribute, ValidateIPs, ValidatePorts, CheckEmptyValues,
CheckServiceAccount, CheckValidPathTemplate), docs/istio-semantics.md §5.5, §6. Spec starts at line 7.
"""

from __future__ import annotations

import pytest
from tests.config.helpers import problems

AP = "AuthorizationPolicy"
P = "invalid policy p.foo: "
DENY_HTTP_ONLY = (
    "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of "
    "only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port"
)

ROWS = [
    pytest.param(
        """
        selector:
          matchLabels:
            istio: ingressgateway
        action: DENY
        rules:
        - from:
          - source:
              notRequestPrincipals: ["*"]
        """,
        [(12, DENY_HTTP_ONLY, True)],
        id="seed-frontend-ingress-valid-with-tcp-warning",
    ),
    pytest.param("{}", [], id="allow-nothing"),
    pytest.param("rules:\n- {}", [], id="allow-all"),
    pytest.param(
        "action: DENY",
        [
            (
                7,
                P + "DENY action without `rules` is meaningless as it will never be triggered, "
                "add an empty rule `{}` if you want it be triggered for every request",
                False,
            )
        ],
        id="deny-without-rules",
    ),
    pytest.param(
        "action: CUSTOM",
        [
            (
                7,
                P + "CUSTOM action without `rules` is meaningless as it will never be triggered, "
                "add an empty rule `{}` if you want it be triggered for every request",
                False,
            )
        ],
        id="custom-without-rules",
    ),
    pytest.param(
        """
        action: CUSTOM
        rules:
        - from:
          - source:
              requestPrincipals: ["*"]
          when:
          - key: request.auth.claims[iss]
            values: [x]
          - null
        """,
        [
            (6, P + "`provider.name` must not be empty", False),
            (11, P + "From.RequestPrincipals is currently not supported with CUSTOM action", False),
            (13, P + "request.auth.claims[iss] is currently not supported with CUSTOM action", False),
            (15, P + "when field cannot be nil", False),
            (15, P + "`key` must not be empty", False),
        ],
        id="custom-restrictions",
    ),
    pytest.param(
        """
        provider:
          name: ext
        rules: [{}]
        """,
        [(7, P + "`provider` must not be with non CUSTOM action, found ALLOW", False)],
        id="provider-only-with-custom",
    ),
    pytest.param(
        """
        rules:
        - from: []
          to: []
        - null
        """,
        [
            (8, P + "`from` must not be empty, found at rule 0", False),
            (9, P + "`to` must not be empty, found at rule 0", False),
            (10, P + "`rule` must not be nil, found at rule 1", False),
        ],
        id="empty-lists-and-nil-rule",
    ),
    pytest.param(
        """
        rules:
        - from:
          - source: {}
          - {}
          to:
          - operation: {}
          - {}
        """,
        [
            (9, P + "`from.source` must not be empty, found at rule 0", False),
            (10, P + "`from.source` must not be nil, found at rule 0", False),
            (12, P + "`to.operation` must not be empty, found at rule 0", False),
            (13, P + "`to.operation` must not be nil, found at rule 0", False),
        ],
        id="empty-and-nil-source-operation",
    ),
    pytest.param(
        """
        rules:
        - from:
          - source:
              namespaces: [a]
              serviceAccounts: ["b/c/d"]
        """,
        [
            (9, P + "cannot set serviceAccounts with namespaces or principals, found at rule 0", False),
            (
                11,
                P + "expected format 'serviceAccount' or 'namespace/serviceAccount', "
                'found "b/c/d" in ServiceAccounts',
                False,
            ),
        ],
        id="service-accounts",
    ),
    pytest.param(
        """
        rules:
        - from:
          - source:
              ipBlocks:
              - 10.0.0.0/8
              - 10.0.0.0/33
              - 1.2.3
              remoteIpBlocks: ["2001:db8::/129", ""]
        """,
        [
            (
                12,
                P + "bad CIDR range (10.0.0.0/33): "
                'netip.ParsePrefix("10.0.0.0/33"): prefix length out of range',
                False,
            ),
            (13, P + "bad IP address (1.2.3)", False),
            (
                14,
                P + 'bad CIDR range (2001:db8::/129): netip.ParsePrefix("2001:db8::/129"): '
                "prefix length out of range",
                False,
            ),
            (14, P + "bad IP address ()", False),
            (14, P + "empty value not allowed, found in RemoteIpBlocks", False),
        ],
        id="ip-blocks",
    ),
    pytest.param(
        """
        rules:
        - to:
          - operation:
              ports: ["8080", "70000", "http"]
              methods: [""]
        """,
        [
            (10, P + "bad port (70000): <nil>", False),
            (10, P + 'bad port (http): strconv.ParseUint: parsing "http": invalid syntax', False),
            (11, P + "empty value not allowed, found in Methods", False),
        ],
        id="ports-and-empty-values",
    ),
    pytest.param(
        """
        rules:
        - to:
          - operation:
              paths: ["/allow/admin/{**}", "/foo/{*}/bar"]
          - operation:
              paths: ["/a/{**}/{*}"]
          - operation:
              notPaths: ["/a/{x}"]
          - operation:
              paths: ["/a/b c/{*}"]
        """,
        [
            (
                12,
                P + "invalid or unsupported path a/{**}/{*}, found in Paths. {**} is not the last operator",
                False,
            ),
            (
                14,
                P + "invalid or unsupported path a/{x}, found in NotPaths. "
                "Contains '{' or '}' beyond a supported path template",
                False,
            ),
            (
                16,
                P + "invalid or unsupported path a/b c/{*}, found in Paths. "
                "Contains segment b c with invalid string literal",
                False,
            ),
        ],
        id="path-templates",
    ),
    pytest.param(
        """
        rules:
        - when:
          - key: request.auth.claims[groups]
          - key: request.headers[x-token]
            values: ["a"]
          - key: request.auth.claims[a][b]
            notValues: ["x"]
          - key: foo.bar
            values: [x]
          - key: source.ip
            values: ["10.0.0.1", "10.0.0.0/40"]
          - key: destination.port
            values: ["99999"]
          - key: request.headers
            values: [x]
        """,
        [
            (
                9,
                P + "at least one of `values` or `notValues` must be set for key request.auth.claims[groups]",
                False,
            ),
            (14, P + "invalid `value` for `key` foo.bar: unknown attribute: foo.bar", False),
            (14, P + "invalid `notValue` for `key` foo.bar: unknown attribute: foo.bar", False),
            (
                17,
                P + "invalid `value` for `key` source.ip: bad CIDR range (10.0.0.0/40): "
                'netip.ParsePrefix("10.0.0.0/40"): prefix length out of range',
                False,
            ),
            (19, P + "invalid `value` for `key` destination.port: bad port (99999): <nil>", False),
            (
                20,
                P + "invalid `value` for `key` request.headers: "
                "bad key (request.headers): should have format a[b]",
                False,
            ),
            (
                20,
                P + "invalid `notValue` for `key` request.headers: "
                "bad key (request.headers): should have format a[b]",
                False,
            ),
        ],
        id="when-keys",
    ),
    pytest.param(
        """
        rules:
        - when:
          - key: destination.namespace
            values: [x]
          - key: destination.labels[app]
            values: [x]
        """,
        [
            (
                9,
                P + "invalid `value` for `key` destination.namespace: attribute destination.namespace "
                "is replaced by the metadata.namespace",
                False,
            ),
            (
                9,
                P + "invalid `notValue` for `key` destination.namespace: attribute destination.namespace "
                "is replaced by the metadata.namespace",
                False,
            ),
            (
                11,
                P + "invalid `value` for `key` destination.labels[app]: attribute destination.labels[app] "
                "is replaced by the workload selector",
                False,
            ),
            (
                11,
                P + "invalid `notValue` for `key` destination.labels[app]: attribute destination.labels[app] "
                "is replaced by the workload selector",
                False,
            ),
        ],
        id="rejected-when-keys",
    ),
    pytest.param(
        """
        rules:
        - when:
          - {key: source.namespace, values: [a]}
          - {key: source.principal, values: [a]}
          - {key: source.serviceAccount, values: [ns/sa]}
          - {key: source.trustDomain, values: ["*.local"]}
          - {key: remote.ip, values: ["::1"]}
          - {key: request.auth.principal, values: [a/b]}
          - {key: request.auth.audiences, values: [a]}
          - {key: request.auth.presenter, values: [a]}
          - {key: destination.ip, values: [10.0.0.0/8]}
          - {key: connection.sni, values: [a]}
          - {key: "experimental.envoy.filters.a.b[c]", values: [a]}
        """,
        [],
        id="every-supported-when-key",
    ),
    pytest.param(
        """
        rules:
        - from:
          - source:
              trustDomains: ["a*b", "**", "x/y"]
        """,
        [(10, P + 'wildcard is only allowed at the start or end, found in TrustDomains: "a*b"', False)],
        id="trust-domains-first-error",
    ),
    pytest.param(
        """
        action: DENY
        rules:
        - to:
          - operation:
              paths: [/admin]
        """,
        [(9, DENY_HTTP_ONLY, True)],
        id="deny-http-only-warning",
    ),
    pytest.param(
        """
        action: DENY
        rules:
        - to:
          - operation:
              ports: ["8080"]
              paths: [/admin]
        """,
        [],
        id="deny-with-port-no-warning",
    ),
    pytest.param(
        "action: MAYBE\nrules: [{}]",
        [(7, 'invalid value for spec.action: "MAYBE" (expected one of ALLOW, DENY, AUDIT, CUSTOM)', False)],
        id="bad-action",
    ),
    pytest.param(
        """
        rules:
        - to:
          - operation:
              ports: [8080]
        """,
        [
            (
                10,
                "invalid type for spec.rules[0].to[0].operation.ports[0]: expected string, got integer",
                False,
            )
        ],
        id="unquoted-port-is-a-type-error-only",
    ),
    pytest.param(
        """
        rules:
        - from:
          - source:
              principal: [a]
        """,
        [(10, 'unknown field "principal" in Source', False)],
        id="unknown-field-in-source",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), ROWS)
def test_authorization_policy_validation(spec: str, expected: list[tuple[int, str, bool]]) -> None:
    assert problems(AP, spec) == expected
