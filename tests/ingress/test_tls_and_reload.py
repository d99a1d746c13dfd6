"""HTTPS servers with `credentialName` Secrets, chosen by SNI, and reloads — good and bad.

Envoy's filter chain match on server_names (envoyproxy/envoy:source/common/listener_manager/
filter_chain_manager_impl.cc): the chain whose name matches the client's SNI presents its certificate; no
chain for the name: no handshake. A reload whose configuration is refused (unknown gateway, unknown
credentialName, two Gateways claiming one port as different protocols) logs its `file:line` problems and
the previous configuration keeps serving (at startup the same problems exit 2); an accepted one opens and
closes the listeners that changed.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.ingress.conftest import call, free_port, start_gateway
from tests.routing.helpers import cert_and_key, secret
from tests.support.servers import GatewayThread, Upstream

BASE = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: @TLS@, name: https-a, protocol: HTTPS}
    hosts: [a.example]
    tls: {mode: SIMPLE, credentialName: a-cert}
  - port: {number: @TLS@, name: https-b, protocol: HTTPS}
    hosts: [b.example]
    tls: {mode: SIMPLE, credentialName: b-cert}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: default}
spec:
  hosts: [web.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: @UP@}, labels: {app: web}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [a.example, b.example]
  gateways: [istio-system/gw]
  http:
  - route: [{destination: {host: web.default.svc.cluster.local}}]
"""
PLAIN_SERVER = """\
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: plain, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: @PLAIN@, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: plain, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/plain]
  http:
  - route: [{destination: {host: web.default.svc.cluster.local}}]
"""
BAD = {
    "a VirtualService naming an unknown gateway": ("vs.yaml", PLAIN_SERVER.replace("[istio-system/plain]",
                                                                               "[istio-system/nowhere]")),
    "an unknown credentialName": ("gw.yaml", BASE.replace("credentialName: b-cert", "credentialName: c-cert")),
    "a route to a host no ServiceEntry defines": ("vs.yaml", PLAIN_SERVER.replace("host: web.default",
                                                                              "host: nowhere.default")),
    "a port claimed by HTTP and HTTPS": ("vs.yaml", PLAIN_SERVER.replace("@PLAIN@", "@TLS@")),
}  # fmt: skip


@dataclass
class Setup:
    directory: Path
    tls_port: int
    plain_port: int
    up: Upstream
    fill: dict[str, str]

    def write(self, name: str, text: str) -> None:
        for key, value in self.fill.items():
            text = text.replace(key, value)
        (self.directory / name).write_text(text)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    up = Upstream().start()
    tls_port, plain_port = free_port(), free_port()
    s = Setup(tmp_path, tls_port, plain_port, up, {"@TLS@": str(tls_port), "@PLAIN@": str(plain_port),
                                                    "@UP@": str(up.port)})  # fmt: skip
    s.write("gw.yaml", BASE)
    s.write("secrets.yaml", secret("a-cert", "istio-system", "a.example") + "---\n"
            + secret("b-cert", "istio-system", "b.example"))  # fmt: skip
    yield s
    up.stop()


def client(host: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=cert_and_key(host)[0].decode())
    return context


def reload(gateway: GatewayThread) -> dict[str, object]:
    runtime = gateway.gateway.runtime
    assert runtime.reloader is not None and runtime.state is not None
    gateway.call(runtime.reloader.reload())
    time.sleep(0.3)  # listeners follow in a task
    assert runtime.state.last_reload is not None
    return runtime.state.last_reload


@pytest.mark.parametrize("host", ["a.example", "b.example"])
def test_https_certificate_chosen_by_sni(setup: Setup, host: str) -> None:
    """Each name gets its own Secret's certificate (verified against exactly that certificate)."""
    gateway = start_gateway(setup.directory, access_log_format="off")
    try:
        reply = call(setup.tls_port, "/x", host=host, tls=client(host), sni=host)
        assert reply.status == 200 and json.loads(reply.body)["path"] == "/x"
        assert setup.up.seen[-1].header("x-forwarded-proto") == ["https"]
    finally:
        gateway.stop()


def test_https_unknown_sni_gets_no_handshake(setup: Setup) -> None:
    gateway = start_gateway(setup.directory, access_log_format="off")
    try:
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        with pytest.raises((ssl.SSLError, ConnectionError)):
            call(setup.tls_port, "/", host="c.example", tls=unverified, sni="c.example")
    finally:
        gateway.stop()


def test_reload_adds_and_removes_a_listener(setup: Setup) -> None:
    gateway = start_gateway(setup.directory, access_log_format="off")
    try:
        setup.write("vs.yaml", PLAIN_SERVER)
        assert reload(gateway)["result"] == "success"
        assert call(setup.plain_port, "/p").status == 200
        (setup.directory / "vs.yaml").unlink()
        assert reload(gateway)["result"] == "success"
        with pytest.raises(ConnectionError):
            call(setup.plain_port, "/p")
        assert (
            call(setup.tls_port, "/x", host="a.example", tls=client("a.example"), sni="a.example").status
            == 200
        )
    finally:
        gateway.stop()


@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
def test_refused_reload_keeps_the_previous_configuration(setup: Setup, bad: str) -> None:
    gateway = start_gateway(setup.directory, access_log_format="off")
    try:
        name, text = BAD[bad]
        setup.write(name, text)
        last = reload(gateway)
        assert last["result"] == "rejected", bad
        problems = last["problems"]
        assert isinstance(problems, list) and problems
        assert all(str(setup.directory) in p and ":" in p for p in problems), problems
        reply = call(setup.tls_port, "/still", host="b.example", tls=client("b.example"), sni="b.example")
        assert reply.status == 200
    finally:
        gateway.stop()


def test_refused_at_startup(setup: Setup) -> None:
    """The same problems at startup: `meshgate serve` prints them and exits 2 (ConfigError from start)."""
    from meshgate.errors import ConfigError
    from meshgate.gateway.serve import ServeOptions, load_config

    setup.write("vs.yaml", BAD["a route to a host no ServiceEntry defines"][1])
    opts = ServeOptions(config_paths=(str(setup.directory),), namespace="istio-system",
                        labels={"istio": "ingressgateway"})  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(opts)
    assert [p.file for p in caught.value.problems] == [str(setup.directory / "vs.yaml")]


def test_config_dump_shows_routes_with_their_source_and_no_key(setup: Setup) -> None:
    """/config_dump: listeners, SNI chains naming their Secret (never the key), routes with file:line."""
    admin = free_port()
    gateway = start_gateway(setup.directory, access_log_format="off", admin=f"127.0.0.1:{admin}")
    try:
        reply = call(admin, "/config_dump", host="127.0.0.1")
        assert reply.status == 200
        assert b"PRIVATE KEY" not in reply.body
        routing = json.loads(reply.body)["routing"]
        (listener,) = routing["listeners"]
        assert (listener["port"], listener["tls"]) == (setup.tls_port, True)
        chains = {c["certificate_secret"]: c for c in listener["chains"]}
        assert set(chains) == {"istio-system/a-cert", "istio-system/b-cert"}
        (vhost,) = chains["istio-system/a-cert"]["virtual_hosts"]
        (route,) = vhost["routes"]
        assert route["virtual_service"] == "default/web"
        assert route["source"] == f"{setup.directory / 'gw.yaml'}:30"  # BASE's `- route:` line
        assert route["forward"]["clusters"][0]["endpoints"] == [f"127.0.0.1:{setup.up.port}"]
        assert routing["destinations"][0]["workload"] == {"namespace": "default", "labels": {"app": "web"}}
    finally:
        gateway.stop()
