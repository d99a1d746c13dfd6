"""VirtualService validation: the CRD schema and istiod's messages, each at its line; meshgate's own refusals.

Sources: istio/istio pkg/config/validation/validation.go (ValidateVirtualService, validateGatewayNames,
validateStringMatch, validateStringRegexp, validateHTTPRouteDestinations, validateHTTPRedirect,
validateHTTPDirectResponse, validateHTTPRewrite, analyzeUnreachableHTTPRules), virtualservice.go
(validateHTTPRoute, validateHTTPRouteConflict, validateHTTPRouteMatchRequest, validateAuthorityRewrite).
A regex is RE2 (what Envoy runs): constructs Python's re has and RE2 lacks are refused with Go's message.
Spec starts at line 7; `gw`, `svc` and `svc2` exist (tests/routing/helpers.py).
"""

from __future__ import annotations

import pytest
from tests.routing.helpers import problems

HINT = "; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"
BACKTRACKS = (  # meshgate's warning: Python's re backtracks where RE2 does not
    "can take exponential time on a crafted request in meshgate, which matches with Python's backtracking re "
    "(Envoy's RE2 would not)"
)


def vs(http: str, hosts: str = "[a.example.com]", gateways: str = "[gw]") -> str:
    return f"hosts: {hosts}\ngateways: {gateways}\nhttp:\n{http}"


R = "  route: [{destination: {host: svc}}]"
VS_ROWS = [
    pytest.param(vs("- route: [{destination: {host: svc}}]"), [], id="valid"),
    pytest.param(
        "gateways: [gw]\nhttp: [{route: [{destination: {host: svc}}]}]",
        [(7, "delegate virtual service must have no gateways specified", False)],
        id="no-hosts-is-a-delegate",
    ),
    pytest.param(
        "hosts: [a.example.com]\ngateways: [gw]",
        [(6, "http, tcp or tls must be provided in virtual service", False)],
        id="no-routes",
    ),
    pytest.param(
        vs("- match: [{uri: {prefix: /}}]"),
        [(10, "HTTP route, redirect or direct_response is required", False)],
        id="route-required",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc}}]", hosts="['*', a.example.com]"),
        [(7, "duplicate hosts in virtual service: * & a.example.com", False)],
        id="duplicate-hosts",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc}}]", gateways="[mesh]", hosts="['*']"),
        [(7, "wildcard host * is not allowed for virtual services bound to the mesh gateway", False)],
        id="mesh-wildcard",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc}}]", gateways="[ns/bad_gw]"),
        [(8, 'invalid value for gateway name: "bad_gw"', False)],
        id="gateway-name",
    ),
    pytest.param(
        vs("- match: [{uri: {regex: '/(?=x)'}}]\n" + R),
        [(10, '"uri": error parsing regexp: invalid or unsupported Perl syntax: `(?=`' + HINT, False)],
        id="regex-lookahead",
    ),
    pytest.param(
        vs("- match: [{headers: {x-a: {regex: '(a)\\1'}}}]\n" + R),
        [(10, '"headers": error parsing regexp: invalid escape sequence: `\\1`' + HINT, False)],
        id="regex-backreference",
    ),
    pytest.param(
        vs("- match: [{uri: {regex: '\\pL+'}}]\n" + R),
        [
            (
                10,
                '"uri": `\\pL`: RE2 Unicode classes are valid for Envoy, but meshgate matches with Python\'s re, '
                "which has none; spell the characters out",
                False,
            )
        ],
        id="regex-unicode-class-meshgate",
    ),
    pytest.param(
        vs("- match: [{uri: {regex: '/(a+)+b'}}, {headers: {x: {regex: '(ab)+'}}}]\n" + R),
        [(10, f"regex /(a+)+b: a repeated group holding a repetition {BACKTRACKS}", True)],
        id="nested-repetition-warned",
    ),
    pytest.param(
        vs("- match: [{uri: {regex: ''}}]\n" + R),
        [(10, '"uri": regex string match should not be empty', False)],
        id="regex-empty",
    ),
    pytest.param(
        vs("- match: [{method: {prefix: ''}}]\n" + R),
        [(10, '"method": prefix string match should not be empty', False)],
        id="prefix-empty",
    ),
    pytest.param(vs("- match: [{uri: {prefix: ''}}]\n" + R), [], id="uri-prefix-may-be-empty"),
    pytest.param(
        vs("- match: [{uri: {exact: /a, prefix: /b}}]\n" + R),
        [
            (
                10,
                'spec.http[0].match[0].uri: Invalid value: "object": must validate one and only one schema (oneOf). '
                "Found 2 valid alternatives",
                False,
            )
        ],
        id="string-match-one-of",
    ),
    pytest.param(
        vs("- match: [{headers: {'bad header': {exact: v}}}]\n" + R),
        [(10, "header name bad header is not a valid header name", False)],
        id="header-name",
    ),
    pytest.param(
        vs("- match: [{headers: {'@request.auth.claims.group': {exact: v}}}]\n" + R),
        [(10, "meshgate does not support routing on JWT claims (@request.auth.claims.group)", False)],
        id="jwt-claim-routing",
    ),
    pytest.param(
        vs("- match: [{withoutHeaders: {x-a: {regex: '*'}}}]\n" + R), [], id="without-headers-star-is-present"
    ),
    pytest.param(
        vs("- match: [{port: 0}, {sourceNamespace: Bad_NS}]\n" + R),
        [(10, "sourceNamespace match Bad_NS is invalid", False)],
        id="source-namespace",
    ),
    pytest.param(
        vs("- route:\n  - {destination: {host: svc}, weight: 0}\n  - {destination: {host: svc2}, weight: 0}"),
        [(10, "total destination weight = 0", False)],
        id="total-weight-zero",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc}, weight: -1}]"),
        [(10, "weight -1 < 0", False)],
        id="negative-weight",
    ),
    pytest.param(
        vs("- route: [{destination: {host: '*'}}]"),
        [(10, "invalid destination host *", False)],
        id="destination-star",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc, port: {number: 0}}}]"),
        [(10, "port number 0 must be in the range 1..65535", False)],
        id="destination-port",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc, subset: v1}}]"),
        [(10, "meshgate loads no DestinationRule: subset v1 cannot be resolved", False)],
        id="subset-meshgate",
    ),
    pytest.param(
        vs("- route: [{weight: 1}]"),
        [(10, "spec.http[0].route[0].destination: Required value", False)],
        id="destination-required",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc}}]\n- route: [{destination: {host: svc}}]"),
        [(11, "virtualService rule #1 not used (only the last rule can have no matches)", True)],
        id="unreachable",
    ),
    pytest.param(
        vs("- match: [{uri: {prefix: /a}}]\n" + R + "\n- match: [{uri: {prefix: /a}}]\n" + R),
        [
            (
                12,
                "virtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0)",
                True,
            ),
            (12, "virtualService rule #1 not used (all matches used by prior rules)", True),
        ],
        id="duplicate-match",
    ),
    pytest.param(
        vs("- match: [{uri: {prefix: /a}}]\n" + R + "\n- match: [{uri: {prefix: /ab}}]\n" + R),
        [
            (
                12,
                "virtualService rule #1 match #0 of prefix /ab is not used (duplicate/overlapping match in rule "
                "#0 of prefix /a on #0)",
                True,
            )
        ],
        id="covered-prefix",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc}}]") + "\ntcp: [{route: [{destination: {host: svc}}]}]",
        [(11, "meshgate routes http[] only: the tcp[] routes are not served", True)],
        id="tcp-not-served",
    ),
    pytest.param(
        vs("- route: [{destination: {host: svc}}]") + "\nexportTo: ['*', ns]",
        [(11, "cannot have both public (*) and non-public exportTo values for a resource", False)],
        id="export-to",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), VS_ROWS)
def test_virtual_service(spec: str, expected: list[tuple[int, str, bool]]) -> None:
    assert problems("VirtualService", spec) == expected
