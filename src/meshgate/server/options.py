"""What every serving process is told: the policies, the workload they apply to, and how to serve it.

`serve` and `authz-server` extend `WorkloadOptions` with their own ports. Addresses stay text here (as
typed on the command line) and are read by `parse_address` where a socket is bound, so a bad one is a
usage error naming its flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshgate.config.model import DEFAULT_ROOT_NAMESPACE, Workload
from meshgate.engine.options import EngineOptions, PathNormalization
from meshgate.errors import UsageError

ANY_ADDRESS = "0.0.0.0"  # `:PORT` listens on every IPv4 interface, as Go's and Envoy's `:PORT` does


@dataclass(frozen=True, slots=True)
class WorkloadOptions:
    """The flags `serve` and `authz-server` share (cli/options.py defines them)."""

    config_paths: tuple[str, ...]
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    root_namespace: str = DEFAULT_ROOT_NAMESPACE
    admin: str | None = "127.0.0.1:15000"  # None or "": no admin server
    trusted_proxies: int = 0
    path_normalization: PathNormalization = PathNormalization.BASE
    jwks_min_refresh: float = 30.0
    ca_file: str | None = None
    access_log_format: str = "envoy"  # or "json"; `serve` also takes "off" (Istio's default: no log)
    mesh_config: str | None = None  # Istio mesh config with `extensionProviders`, for CUSTOM policies

    @property
    def engine_options(self) -> EngineOptions:
        return EngineOptions(trusted_proxies=self.trusted_proxies, path_normalization=self.path_normalization)

    @property
    def workload(self) -> Workload:
        return Workload(self.namespace, dict(self.labels), self.root_namespace)


def parse_address(text: str, flag: str) -> tuple[str, int]:
    """`HOST:PORT`, `[v6]:PORT` or `:PORT` (every interface) → (host, port); a usage error naming `flag`."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not port.isdigit() or int(port) > 65535 or "[" in host or "]" in host:
        raise UsageError(f"{flag}: expected HOST:PORT, got {text!r}")
    return host or ANY_ADDRESS, int(port)
