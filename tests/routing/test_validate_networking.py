"""Gateway, VirtualService and ServiceEntry validation: the CRD schema and istiod's messages, each at its line.

Sources: istio/istio pkg/config/validation/validation.go (ValidateGateway, validateServer, validateTLSOptions,
ValidateVirtualService, validateGatewayNames, validateStringMatch, validateHTTPRouteDestinations,
validateHTTPRedirect, validateHTTPDirectResponse, validateHTTPRewrite, ValidateServiceEntry,
analyzeUnreachableHTTPRules), virtualservice.go, agent/validation.go; istio/api
kubernetes/customresourcedefinitions.gen.yaml for the schema. meshgate's own refusals say `meshgate`.
Spec starts at line 7; `gw`, `svc` and `svc2` exist (tests/routing/helpers.py).
"""

from __future__ import annotations

import pytest
from tests.routing.helpers import problems

HINT = "; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"
SERVER = "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]"

GATEWAY_ROWS = [
    pytest.param(SERVER, [], id="valid"),
    pytest.param("servers: []", [(7, "gateway must have at least one server", False)], id="no-servers"),
    pytest.param(
        "servers:\n- port: {number: 80, protocol: HTTP}\n  hosts: []",
        [
            (8, "spec.servers[0].port.name: Required value", False),
            (9, "server config must contain at least one host", False),
        ],
        id="port-name-required-and-hosts",
    ),
    pytest.param(
        "servers:\n- port: {number: 0, name: x, protocol: FOO, targetPort: 8080}\n  hosts: [a.example.com]",
        [
            (
                8,
                'invalid protocol "FOO", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP',
                False,
            ),
            (8, "port number 0 must be in the range 1..65535", False),
            (8, "targetPort has no impact on Gateways", False),
        ],
        id="bad-port",
    ),
    pytest.param(
        "servers:\n- port: {number: 70000, name: x, protocol: HTTP}\n  hosts: [a.example.com]",
        [(8, "port number 70000 must be in the range 1..65535", False)],
        id="port-range",
    ),
    pytest.param(
        "servers:\n- port: {number: '80', name: x, protocol: HTTP}\n  hosts: [a.example.com]",
        [(8, "invalid type for spec.servers[0].port.number: expected integer, got string", False)],
        id="port-number-type",
    ),
    pytest.param(
        "servers:\n- port: {number: 80, name: x, protocol: HTTP}\n"
        "  hosts: [short, 'foo.*.com', 'ns/*', 'Bad_NS/a.com']",
        [
            (9, "short names (non FQDN) are not allowed", False),
            (9, 'domain name "*.com" invalid (label "*" invalid)', False),
            (9, 'partial wildcard "foo.*.com" not allowed', False),
            (9, 'invalid namespace value "Bad_NS" in gateway', False),
        ],
        id="server-hosts",
    ),
    pytest.param(
        "servers:\n- port: {number: 443, name: https, protocol: HTTPS}\n  hosts: [a.example.com]",
        [(8, "server must have TLS settings for HTTPS/TLS protocols", False)],
        id="https-needs-tls",
    ),
    pytest.param(
        "servers:\n- port: {number: 443, name: https, protocol: HTTPS}\n  hosts: [a.example.com]\n"
        "  tls: {mode: SIMPLE}",
        [
            (10, "SIMPLE TLS requires a server certificate", False),
            (10, "SIMPLE TLS requires a private key", False),
        ],
        id="simple-needs-credential",
    ),
    pytest.param(
        "servers:\n- port: {number: 443, name: https, protocol: HTTPS}\n  hosts: [a.example.com]\n"
        "  tls: {mode: SIMPLE, credentialName: c, serverCertificate: /c, privateKey: /k}",
        [
            (
                10,
                "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates "
                "should "
                "be specified",
                False,
            )
        ],
        id="one-certificate-source",
    ),
    pytest.param(
        "servers:\n- port: {number: 443, name: https, protocol: HTTPS}\n  hosts: [a.example.com]\n"
        "  tls: {mode: SIMPLES}",
        [
            (
                10,
                'invalid value for spec.servers[0].tls.mode: "SIMPLES" (expected one of PASSTHROUGH, SIMPLE, MUTUAL, '
                "AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL)",
                False,
            )
        ],
        id="tls-mode-enum",
    ),
    pytest.param(
        "servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [a.example.com]\n"
        "  tls: {mode: SIMPLE, credentialName: cert}",
        [(10, "server cannot have TLS settings for plain text HTTP ports", False)],
        id="tls-on-plain-http",
    ),
    pytest.param(
        "servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [a.example.com]\n"
        "  tls: {httpsRedirect: true}",
        [],
        id="https-redirect-on-http",
    ),
    pytest.param(
        "servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [a.example.com]\n"
        "- port: {number: 81, name: http, protocol: HTTP}\n  hosts: [b.example.com]",
        [(10, "port names in servers must be unique: duplicate name http", False)],
        id="port-names-unique",
    ),
    pytest.param(
        SERVER + "\nselector: {app: x}\nbogus: 1",
        [(9, 'unknown field "bogus" in Gateway', False)],
        id="unknown-field",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), GATEWAY_ROWS)
def test_gateway(spec: str, expected: list[tuple[int, str, bool]]) -> None:
    assert problems("Gateway", spec, support=False) == expected


def test_gateway_name_is_a_dns_label() -> None:
    from tests.routing.helpers import load

    found = [(p.line, p.message) for p in load("Gateway", SERVER, name="my.gw").problems]
    assert found == [(4, 'invalid gateway name: "my.gw"')]


SE = "hosts: [x.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\n"
SE_ROWS = [
    pytest.param(SE + "resolution: DNS", [], id="valid-dns"),
    pytest.param("ports: []", [(6, "spec.hosts: Required value", False)], id="hosts-required"),
    pytest.param("hosts: ['*']", [(7, "invalid host *", False)], id="wildcard-host"),
    pytest.param(
        SE + "resolution: STATIC\nendpoints: [{address: a.example.com}]",
        [(10, 'endpoint address "a.example.com" is not a valid IP address', False)],
        id="static-needs-ip",
    ),
    pytest.param(
        SE + "resolution: NONE\nendpoints: [{address: 1.2.3.4}]",
        [(10, "no endpoints should be provided for resolution type none", False)],
        id="none-no-endpoints",
    ),
    pytest.param(
        SE + "resolution: DNS_ROUND_ROBIN\nendpoints: [{address: a.com}, {address: b.com}]",
        [(10, "there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN", False)],
        id="dns-rr-one",
    ),
    pytest.param(
        SE + "resolution: STATIC\nendpoints: [{address: 1.2.3.4, ports: {grpc: 9}, labels: {'a b': c}}]",
        [
            (10, "endpoint port 9 is not defined by the service entry", False),
            (10, 'invalid tag key: "a b"', False),
        ],
        id="endpoint-ports-labels",
    ),
    pytest.param(
        "hosts: [x.example.com]\nports: [{number: 80, name: http}, {number: 80, name: http}]",
        [
            (8, 'service entry port name "http" already defined', False),
            (8, "service entry port 80 already defined", False),
        ],
        id="duplicate-ports",
    ),
    pytest.param(
        "hosts: [x.example.com]\nports: [{number: 80, name: Http_1, protocol: FOO}]",
        [(8, "invalid port name: Http_1", False), (8, "unsupported protocol: FOO", False)],
        id="port-name-protocol",
    ),
    pytest.param(
        SE + "resolution: STATICS",
        [
            (
                9,
                'invalid value for spec.resolution: "STATICS" (expected one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, '
                "DYNAMIC_DNS)",
                False,
            )
        ],
        id="resolution-enum",
    ),
    pytest.param(
        SE + "addresses: [10.0.0.0/33]", [(9, "10.0.0.0/33 is not a valid CIDR block", False)], id="cidr"
    ),
    pytest.param(
        SE + "workloadSelector: {labels: {app: a}}\nendpoints: []",
        [(9, "only one of WorkloadSelector or Endpoints is allowed in Service Entry", False)],
        id="selector-and-endpoints",
    ),
    pytest.param(
        "hosts: ['foo.*.com']\nresolution: DYNAMIC_DNS",
        [(7, 'domain name "*.com" invalid (label "*" invalid)', False)],
        id="partial-wildcard",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), SE_ROWS)
def test_service_entry(spec: str, expected: list[tuple[int, str, bool]]) -> None:
    assert problems("ServiceEntry", spec) == expected
