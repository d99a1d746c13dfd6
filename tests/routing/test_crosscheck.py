"""Problems between resources and TLS Secrets: each at the `file:line` of the reference that cannot be resolved.

istiod accepts these resources one by one and fails later in the data plane (config/networking/crosscheck.py docstring;
docs/routing.md says which is istiod's behaviour and which meshgate's). Mutations caught: dropping a check,
reporting at the resource's line instead of the reference's, reporting a reference to a resource that failed
its own validation a second time.
"""

from __future__ import annotations

import base64

import pytest
from tests.routing.helpers import cert_and_key, secret

from meshgate.config.load import load_text

GW = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{{selector}}}
  servers:
  - port: {{number: {port}, name: {pname}, protocol: {proto}}}
    hosts: [{hosts}]
{tls}---
"""
VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: default}}
spec:
  hosts: [{hosts}]
  gateways: [{gateways}]
  http:
  - route:
    - destination: {{host: {dest}}}
---
"""
SE = """apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: default}}
spec:
  hosts: [{host}]
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  resolution: {resolution}
{endpoints}---
"""
STATIC = "  endpoints: [{address: 127.0.0.1}]\n"


def gateway(
    name: str = "gw",
    ns: str = "default",
    port: int = 80,
    proto: str = "HTTP",
    hosts: str = '"*"',
    tls: str = "",
    selector: str = "istio: ingressgateway",
    pname: str = "http",
) -> str:
    return GW.format(
        name=name, ns=ns, port=port, proto=proto, hosts=hosts, tls=tls, selector=selector, pname=pname
    )


def vs(
    gateways: str = "gw", dest: str = "svc.default.svc.cluster.local", hosts: str = "a.example.com"
) -> str:
    return VS.format(gateways=gateways, dest=dest, hosts=hosts)


def se(name: str = "svc", host: str = "svc.default.svc.cluster.local", resolution: str = "STATIC") -> str:
    return SE.format(
        name=name, host=host, resolution=resolution, endpoints=STATIC if resolution == "STATIC" else ""
    )


def found(text: str) -> list[tuple[int, str, bool]]:
    return [(p.line, p.message, p.warning) for p in load_text(text, "c.yaml").problems]


TLS = "    tls: {mode: SIMPLE, credentialName: cert}\n"
UNDEFINED = "is not defined by any Gateway of the configuration"
ROWS = [
    pytest.param(gateway() + vs() + se(), [], id="valid"),
    pytest.param(gateway() + vs("mesh") + se(), [], id="mesh-only-is-not-checked"),
    pytest.param(
        gateway() + vs("nope") + se(),
        [(15, f"VirtualService default/vs: gateway nope (default/nope) {UNDEFINED}", False)],
        id="unknown-gateway",
    ),
    pytest.param(
        gateway(ns="istio-system") + vs("gw") + se(),
        [(15, f"VirtualService default/vs: gateway gw (default/gw) {UNDEFINED}", False)],
        id="short-name-is-in-the-virtualservice-namespace",
    ),
    pytest.param(gateway(ns="istio-system") + vs("istio-system/gw") + se(), [], id="ns/name"),
    pytest.param(
        gateway() + vs(dest="other") + se(),
        [
            (
                18,
                "destination host other (other.default.svc.cluster.local) is defined by no ServiceEntry: meshgate has "
                "no service registry to find it in",
                False,
            )
        ],
        id="unknown-destination-host",
    ),
    pytest.param(gateway() + vs(dest="svc") + se(), [], id="short-destination-resolves"),
    pytest.param(
        gateway() + vs() + se(resolution="NONE"),
        [
            (
                18,
                "meshgate cannot route to ServiceEntry default/svc: resolution NONE passes requests to their original "
                "destination",
                False,
            )
        ],
        id="resolution-none",
    ),
    pytest.param(
        gateway() + vs() + se() + se("svc2"),
        [
            (
                33,
                "host svc.default.svc.cluster.local is already defined by ServiceEntry default/svc (c.yaml:20): "
                "meshgate needs one definition per host",
                False,
            )
        ],
        id="host-defined-twice",
    ),
    pytest.param(
        gateway()
        + vs(hosts="b.example.com").replace("hosts: [b.example.com]", "hosts: [b.example.com]")
        + se()
        + gateway("gw2", hosts='"a.example.com"', port=81).replace("[gw]", "[gw2]"),
        [],
        id="two-gateways-two-ports",
    ),
    pytest.param(
        gateway() + gateway("gw2"),
        [
            (
                16,
                "Gateway default/gw2 servers[0] port 80 conflicts with default/gw servers[0] (c.yaml:7): both serve "
                "host *",
                False,
            )
        ],
        id="same-port-same-host",
    ),
    pytest.param(gateway() + gateway("gw2", hosts='"a.example.com"'), [], id="same-port-other-host"),
    pytest.param(gateway() + gateway("gw2", selector="istio: other"), [], id="selectors-never-meet"),
    pytest.param(
        gateway() + gateway("gw2", proto="HTTPS", pname="https", tls=TLS) + secret("cert", "default"),
        [
            (
                16,
                "Gateway default/gw2 servers[0] port 80 conflicts with default/gw servers[0] (c.yaml:7): HTTP and TLS "
                "servers cannot share a port",
                False,
            )
        ],
        id="plain-and-tls-on-one-port",
    ),
    pytest.param(
        gateway(port=443, proto="HTTPS", pname="https", tls=TLS),
        [
            (
                9,
                "credentialName cert: no Secret named cert in the configuration (istiod reads it from the namespace "
                "of the gateway workload)",
                False,
            )
        ],
        id="unknown-credential",
    ),
    pytest.param(
        gateway(port=443, proto="HTTPS", pname="https", tls=TLS) + secret("cert", "istio-system"),
        [],
        id="credential-found",
    ),
    pytest.param(
        gateway(
            port=443,
            proto="HTTPS",
            pname="https",
            tls=TLS.replace("cert}", "'kubernetes-gateway://ns/cert'}"),
        ),
        [
            (
                9,
                "credentialName kubernetes-gateway://ns/cert: meshgate reads only Secrets (kubernetes://)",
                False,
            )
        ],
        id="gateway-api-credential",
    ),
    pytest.param(
        gateway(hosts='"b.example.com"') + vs() + se(),
        [
            (
                10,
                "VirtualService default/vs: no server of gateway default/gw serves its hosts: it routes nothing",
                True,
            )
        ],
        id="virtualservice-binds-nowhere",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ROWS)
def test_references(text: str, expected: list[tuple[int, str, bool]]) -> None:
    assert found(text) == expected


def test_a_rejected_gateway_is_not_reported_again_as_missing() -> None:
    text = gateway().replace("number: 80", "number: 0") + vs() + se()
    assert found(text) == [(7, "port number 0 must be in the range 1..65535", False)]


def _secret_doc(body: str) -> str:
    return f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: default}}\n{body}"


CERT, KEY = (base64.b64encode(v).decode() for v in cert_and_key())
OTHER_KEY = base64.b64encode(cert_and_key("other.example")[1]).decode()
NOT_PEM = "tls.crt holds no PEM certificate (meshgate checks what Envoy would serve)"
KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
SECRET_ROWS = [
    pytest.param(f"type: kubernetes.io/tls\ndata: {{tls.crt: {CERT}, tls.key: {KEY}}}\n", [], id="valid"),
    pytest.param(f"data: {{cert: {CERT}, key: {KEY}}}\n", [], id="istio-generic-keys"),
    pytest.param(
        "type: kubernetes.io/tls\ndata: {tls.crt: eA==}\n",
        [(5, "data[tls.key]: Required value", False)],
        id="tls-key",
    ),
    pytest.param(
        "data: {tls.crt: '!!'}\n",
        [(4, "data.tls.crt in body must be of type byte: '!!'", False)],
        id="base64",
    ),
    pytest.param("stringData: {tls.crt: x, tls.key: y}\n", [(4, NOT_PEM, False)], id="not-pem"),
    pytest.param(
        f"data: {{tls.crt: {CERT}, tls.key: {OTHER_KEY}}}\n",
        [(4, "tls.key does not match the first certificate of tls.crt", False)],
        id="key-mismatch",
    ),
    pytest.param("spec: {}\n", [(4, 'unknown field "spec" in Secret', False)], id="no-spec"),
    pytest.param(
        "data: {'bad key': eA==}\n",
        [(4, f'data[bad key]: Invalid value: "bad key": {KEY_RULE}', False)],
        id="key",
    ),
]


@pytest.mark.parametrize(("body", "expected"), SECRET_ROWS)
def test_secret(body: str, expected: list[tuple[int, str, bool]]) -> None:
    result = load_text(_secret_doc(body), "c.yaml")
    assert [(p.line, p.message, p.warning) for p in result.problems] == expected
    assert len(result.resources.secrets) == (0 if expected else 1)


def test_secret_keeps_no_key_in_its_repr() -> None:
    result = load_text(_secret_doc(f"type: kubernetes.io/tls\ndata: {{tls.crt: {CERT}, tls.key: {KEY}}}\n"))
    (loaded,) = result.resources.secrets
    assert loaded.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE" not in repr(loaded) and "CERTIFICATE" not in repr(loaded)
