"""Ask a real Envoy 1.40 and meshgate the same raw request, and see what each answered and forwarded.

`ParityRig(configs)` starts, for a mapping of name → Istio YAML text: one recording upstream
(recording_upstream.py), one Envoy process with a listener per configuration (envoy_jwt.py, configured as
istiod would), and one in-process `meshgate serve` gateway per configuration (the real Gateway of
gateway/serve.py, as tests/support/servers.py runs it), all on loopback and all forwarding to the same
upstream. `ask(name, method, target, headers)` sends identical bytes to both and returns a `Seen` for each:
status, body, `www-authenticate`, and what reached the upstream (its request-target and headers, or None).
Start one rig per test module: Envoy starts in well under a second.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.envoy_jwt import EnvoyProcess, exchange, request_bytes
from tests.support.recording_upstream import RecordingUpstream
from tests.support.servers import GatewayThread

from meshgate.gateway.serve import ServeOptions

HOST = "parity.example.com"


@dataclass(frozen=True)
class Seen:
    """What the client got, and what the upstream received (`target` None: nothing reached it)."""

    status: int
    body: str
    www_authenticate: str | None
    target: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # as the upstream received them, names lower-cased

    def upstream(self, name: str) -> list[str]:
        """Every value of upstream header `name`, in order."""
        return [v for k, v in self.headers if k == name]

    def client_view(self) -> tuple[int, str, str | None]:
        return self.status, self.body, self.www_authenticate


@dataclass
class ParityRig:
    configs: Mapping[str, str]
    namespace: str = "default"
    labels: Mapping[str, str] = field(default_factory=dict)
    jwks_ports: Mapping[str, int] = field(default_factory=dict)  # remote jwksUri → loopback port serving it
    upstream: RecordingUpstream = field(default_factory=RecordingUpstream)
    envoy: EnvoyProcess | None = None
    gateways: dict[str, GatewayThread] = field(default_factory=dict)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="meshgate-parity-")))

    def start(self) -> ParityRig:
        self.upstream.start()
        try:
            self.envoy = EnvoyProcess.for_resources(self.configs, self.upstream.port, self.jwks_ports)
            for name, text in self.configs.items():
                path = self.directory / f"{name}.yaml"
                path.write_text(text)
                opts = ServeOptions(
                    config_paths=(str(path),),
                    listen="127.0.0.1:0",
                    admin=None,
                    upstream=self.upstream.url,
                    namespace=self.namespace,
                    labels=dict(self.labels),
                    access_log_format="off",
                )
                self.gateways[name] = GatewayThread(opts)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for gateway in self.gateways.values():
            gateway.stop()
        if self.envoy is not None:
            self.envoy.stop()
        self.upstream.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _send(self, port: int, raw: bytes) -> Seen:
        before = len(self.upstream.received)
        response = exchange(port, raw)
        reached = self.upstream.received[before:]
        assert len(reached) <= 1, "one request reached the upstream more than once"
        got = reached[0] if reached else None
        return Seen(
            response.status,
            "" if got is not None else response.body,  # the upstream's own body says nothing here
            response.header("www-authenticate"),
            got.target if got is not None else None,
            tuple((k.lower(), v) for k, v in got.headers) if got is not None else (),
        )

    def ask(
        self, name: str, method: str, target: str, headers: Sequence[tuple[str, str]] = ()
    ) -> tuple[Seen, Seen]:
        """(Envoy's, meshgate's) for the same bytes; a Host header is added first unless given."""
        assert self.envoy is not None
        lines = list(headers)
        if not any(k.lower() == "host" for k, _ in lines):
            lines.insert(0, ("host", HOST))
        raw = request_bytes(method, target, lines)
        return self._send(self.envoy.port(name), raw), self._send(self.gateways[name].port, raw)
