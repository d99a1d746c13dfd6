"""What a VirtualService route does, validated: redirects, direct responses, rewrites, header operations,
timeouts, and the fields meshgate refuses or ignores.

Sources: istio/istio pkg/config/validation/validation.go (validateHTTPRedirect, validateHTTPDirectResponse,
validateHTTPRewrite, ValidateHTTPHeaderOperationName, ValidateHTTPHeaderValue), virtualservice.go
(validateHTTPRouteConflict, validateAuthorityRewrite), header_value_validator.go, agent/validation.go
(ValidateDuration); istiod's translation (route.go ApplyRedirect) for the redirect codes meshgate accepts.
Spec starts at line 7; `gw` and `svc` exist (tests/routing/helpers.py).
"""

from __future__ import annotations

import pytest
from tests.routing.helpers import problems
from tests.routing.test_validate_virtual_service import R, vs

ROWS = [
    pytest.param(
        vs("- redirect: {uri: /a, prefixRewrite: /b}"),
        [(10, "redirect may only specify one of uri or prefix_rewrite", False)],
        id="redirect-uri-and-prefix",
    ),
    pytest.param(
        vs("- redirect: {redirectCode: 301}"),
        [(10, "redirect must specify URI, authority, scheme, or port", False)],
        id="redirect-empty",
    ),
    pytest.param(
        vs("- redirect: {uri: /a, redirectCode: 200}"),
        [(10, "200 is not a valid redirect code, must be 3xx", False)],
        id="redirect-code-3xx",
    ),
    pytest.param(
        vs("- redirect: {uri: /a, redirectCode: 304}"),
        [(10, "meshgate: istiod translates only redirect codes 301, 302, 303, 307 and 308, not 304", False)],
        id="redirect-code-meshgate",
    ),
    pytest.param(
        vs("- redirect: {scheme: ftp}"),
        [(10, 'invalid redirect scheme, must be "http" or "https"', False)],
        id="redirect-scheme",
    ),
    pytest.param(
        vs("- match: [{uri: {exact: /a}}]\n  redirect: {prefixRewrite: /b}"),
        [(11, "redirect prefix_rewrite requires all URI matches to use prefix match type", False)],
        id="redirect-prefix-needs-prefix",
    ),
    pytest.param(
        vs("- redirect: {port: 80, derivePort: FROM_REQUEST_PORT}"),
        [
            (
                10,
                'spec.http[0].redirect: Invalid value: "object": must validate one and only one schema (oneOf). '
                "Found 2 valid alternatives",
                False,
            )
        ],
        id="redirect-port-one-of",
    ),
    pytest.param(
        vs("- directResponse: {status: 700}"),
        [(10, "HTTP status 700 is not in range 200-599", False)],
        id="direct-status",
    ),
    pytest.param(
        vs("- directResponse: {body: {string: x}}"),
        [(10, "spec.http[0].directResponse.status: Required value", False)],
        id="direct-status-required",
    ),
    pytest.param(
        vs("- directResponse: {status: 200}\n" + R),
        [(11, "HTTP route cannot contain both route and direct_response", False)],
        id="direct-and-route",
    ),
    pytest.param(
        vs("- rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}\n" + R),
        [(10, "rewrite may only contain one of URI or UriRegexRewrite", False)],
        id="rewrite-uri-and-regex",
    ),
    pytest.param(
        vs("- rewrite: {uriRegexRewrite: {match: '^/(a)', rewrite: '/\\2'}}\n" + R),
        [
            (
                10,
                "meshgate: Rewrite schema requests 2 matches, but the regexp only has 1 parenthesized "
                "subexpressions.",
                False,
            )
        ],
        id="regex-rewrite-groups",
    ),
    pytest.param(
        vs("- timeout: 1.5ms\n" + R),
        [(10, "only durations to ms precision are supported", False)],
        id="timeout-precision",
    ),
    pytest.param(
        vs("- timeout: soon\n" + R),
        [(10, "must be a valid duration greater than 1ms", False)],
        id="timeout-syntax",
    ),
    pytest.param(
        vs("- headers: {request: {set: {':path': /x}, add: {x-a: '%START_TIME%'}}}\n" + R),
        [
            (10, 'invalid header ":path": header cannot have ":" prefix', False),
            (
                10,
                "meshgate sets header values literally: Envoy's %VARIABLE% formatters are not supported "
                "(%START_TIME%)",
                False,
            ),
        ],
        id="header-ops",
    ),
    pytest.param(
        vs("- headers: {response: {remove: [host]}}\n" + R),
        [(10, 'invalid header "host": cannot set Host header', False)],
        id="response-host",
    ),
    pytest.param(
        vs("- headers: {request: {set: {host: a}}}\n  rewrite: {authority: b}\n" + R),
        [(10, 'authority header cannot be set multiple times: have "b", attempting to set "a"', False)],
        id="authority-twice",
    ),
    pytest.param(
        vs("- retries: {attempts: 3}\n" + R),
        [(10, "meshgate does not apply retries (retries); it is ignored", True)],
        id="retries-ignored",
    ),
    pytest.param(
        vs("- delegate: {name: d}"),
        [(10, "meshgate does not support delegate VirtualServices (http[].delegate)", False)],
        id="delegate",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), ROWS)
def test_http_route(spec: str, expected: list[tuple[int, str, bool]]) -> None:
    assert problems("VirtualService", spec) == expected
