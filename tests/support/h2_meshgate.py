"""The meshgate side of the HTTP/2 rig: `meshgate serve` gateways (in threads) with the seed's policies in
front of the same real upstreams as tests/support/h2_ingress.py, so the phase-1 tables (h2_facts.py,
h2_hostile.py) can be asserted against meshgate.

meshgate has one upstream per `serve` (routing by host is another module's), so each Envoy route becomes a
gateway of its own: `plain` / `tls` → the grpcio server over h2c (`--upstream-protocol h2`), `web` /
`web-tls` → the HTTP/1.1 recording upstream, `down` → a stopped grpcio server (connection refused), `silent`
→ a server that accepts and never answers (route timeout 0.3 s; `silent-untimed`: the default 15 s).
The seed's jwksUri is replaced by the same key set inline.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from tests.support.grpc_servers import GrpcServer
from tests.support.h2_ingress import SilentUpstream
from tests.support.jwks_server import TestCA, make_test_ca
from tests.support.recording_upstream import RecordingUpstream
from tests.support.samples import SAMPLES
from tests.support.seed import SEED_RESOURCES
from tests.support.servers import GatewayThread

from meshgate.gateway.serve import ServeOptions


def seed_with_inline_jwks(directory: Path) -> str:
    """The seed's two resources, jwksUri → the same JWKS inline (nothing fetched)."""
    directory.mkdir(parents=True, exist_ok=True)
    jwks = (SAMPLES / "jwks.json").read_text().replace("\n", "")
    for name in ("request-authentication.yaml", "authorization-policy.yaml"):
        text = (SEED_RESOURCES / name).read_text()
        (directory / name).write_text(re.sub(r"jwksUri: .*", f"jwks: '{jwks}'", text))
    return str(directory)


class MeshgateRig:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="meshgate-h2-mg-"))
        self.grpc = GrpcServer()
        self.web = RecordingUpstream()
        self.silent = SilentUpstream()
        self.ca: TestCA = make_test_ca(self.directory / "ca")
        self.gateways: dict[str, GatewayThread] = {}

    def start(self) -> MeshgateRig:
        try:
            self.grpc.start()
            dead = GrpcServer().start()
            dead_port = dead.port
            dead.stop()
            self.web.start()
            base = ServeOptions(
                config_paths=(seed_with_inline_jwks(self.directory / "seed"),),
                labels={"app": "frontend"}, listen="127.0.0.1:0", admin=None,
            )  # fmt: skip
            tls = {"tls_cert": self.ca.cert_file, "tls_key": self.ca.key_file}
            grpc = f"http://127.0.0.1:{self.grpc.port}"
            web = f"http://127.0.0.1:{self.web.port}"
            specs = {
                "plain": {"upstream": grpc, "upstream_protocol": "h2"},
                "tls": {"upstream": grpc, "upstream_protocol": "h2", **tls},
                "web": {"upstream": web},
                "web-tls": {"upstream": web, **tls},
                "down": {"upstream": f"http://127.0.0.1:{dead_port}", "upstream_protocol": "h2"},
                "silent": {"upstream": f"http://127.0.0.1:{self.silent.port}", "upstream_protocol": "h2",
                           "upstream_timeout": 0.3},
                "silent-untimed": {"upstream": f"http://127.0.0.1:{self.silent.port}",
                                   "upstream_protocol": "h2"},  # the default 15 s route timeout
            }  # fmt: skip
            for name, fields in specs.items():
                self.gateways[name] = GatewayThread(replace(base, **fields))  # type: ignore[arg-type]
        except BaseException:
            self.stop()
            raise
        return self

    def port(self, listener: str) -> int:
        return self.gateways[listener].port

    def stop(self) -> None:
        for gateway in self.gateways.values():
            gateway.stop()
        self.grpc.stop()
        self.silent.stop()
        self.web.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
