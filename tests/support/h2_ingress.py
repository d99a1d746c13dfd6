"""The HTTP/2 ingress rig: a real Envoy 1.40 configured as istiod would (envoy_h2.py) with the seed's
policies, in front of real upstreams on loopback. One per test module; `stop()` ends everything.

Upstreams (hosts in h2_facts.py): a grpcio server (GRPC_HOST, a GRPC ServiceEntry port: HTTP/2 cluster), a
grpcio server that was started and stopped (DOWN_HOST: connection refused), a silent upstream that accepts
and never answers (SLOW_HOST with a 0.3 s VirtualService timeout, SILENT_HOST without), the HTTP/1.1
recording upstream (WEB_HOST) and a directResponse (DIRECT_HOST). Listeners: `plain` (codec AUTO: h2c with
prior knowledge and HTTP/1.1), `tls` (ALPN h2,http/1.1, the test CA's localhost certificate) and `edge`
(plain, with the HTTP/2 limits of Istio's EDGE ConnectionSettings profile).
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import urllib.request
from pathlib import Path

from tests.support import envoy_h2
from tests.support.envoy_jwt import EnvoyProcess
from tests.support.grpc_servers import GrpcServer
from tests.support.h2_facts import (
    DIRECT_BODY,
    DIRECT_HOST,
    DOWN_HOST,
    GRPC_HOST,
    SILENT_HOST,
    SLOW_HOST,
    WEB_HOST,
)
from tests.support.jwks_server import TestCA, make_test_ca
from tests.support.recording_upstream import RecordingUpstream
from tests.support.tcp_server import ThreadedTcpServer


class SilentUpstream(ThreadedTcpServer):
    """Accepts TCP connections and reads them, never writes: an upstream that never answers."""

    def handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                pass


def _cluster(host: str, port: int = 50051) -> str:
    return f"outbound|{port}||{host}"  # istiod's cluster name for a ServiceEntry host and port


class IngressRig:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="meshgate-h2-rig-"))
        self.grpc = GrpcServer()
        self.silent = SilentUpstream()
        self.web = RecordingUpstream()
        self.ca: TestCA = make_test_ca(self.directory / "ca")
        self.envoy: EnvoyProcess | None = None

    def start(self) -> IngressRig:
        try:
            self.grpc.start()
            dead = GrpcServer().start()
            dead_port = dead.port
            dead.stop()  # a real gRPC server, stopped: its port now refuses connections
            self.web.start()
            routes = [
                envoy_h2.Route(GRPC_HOST, _cluster(GRPC_HOST)),
                envoy_h2.Route(DOWN_HOST, _cluster(DOWN_HOST)),
                envoy_h2.Route(SLOW_HOST, _cluster(SILENT_HOST), timeout="0.3s"),
                envoy_h2.Route(SILENT_HOST, _cluster(SILENT_HOST)),
                envoy_h2.Route(WEB_HOST, _cluster(WEB_HOST, 80)),
                envoy_h2.Route(DIRECT_HOST, direct=(418, DIRECT_BODY)),
            ]
            spec = envoy_h2.IngressSpec(
                listeners=[
                    envoy_h2.Listener("plain"),
                    envoy_h2.Listener("tls", tls=self.ca),
                    envoy_h2.Listener("edge", http2=envoy_h2.EDGE_HTTP2),
                ],
                routes=routes,
                clusters={
                    _cluster(GRPC_HOST): self.grpc.port,
                    _cluster(DOWN_HOST): dead_port,
                    _cluster(SILENT_HOST): self.silent.port,
                },
                http1_clusters={_cluster(WEB_HOST, 80): self.web.port},
            )
            self.envoy = envoy_h2.start(spec)
        except BaseException:
            self.stop()
            raise
        return self

    def port(self, listener: str) -> int:
        assert self.envoy is not None
        return self.envoy.port(listener)

    def stat(self, name: str) -> int:
        """One Envoy counter from the admin endpoint (0 when absent)."""
        assert self.envoy is not None
        url = f"http://127.0.0.1:{self.envoy.admin_port}/stats?format=json&filter=^{name}$"
        with urllib.request.urlopen(url, timeout=5) as r:
            stats = json.load(r).get("stats", [])
        return int(next((s["value"] for s in stats if s.get("name") == name), 0))

    def stop(self) -> None:
        if self.envoy is not None:
            self.envoy.stop()
        self.grpc.stop()
        self.silent.stop()
        self.web.stop()
