"""Addresses and the options `serve` and `authz-server` share: one parser, one meaning for every flag.

`:PORT` listens on every IPv4 interface (0.0.0.0), as Go's and Envoy's `:PORT` does, whichever flag names
it; `[v6]:PORT` is an IPv6 host; anything else without a port is a usage error naming the flag. Mutations
caught: a flag parsed by another rule (authz-server refused `:PORT` before), a port above 65535 accepted,
brackets kept in the host, a shared flag that one command no longer reads.
"""

from __future__ import annotations

import pytest

from meshgate.cli import authz_server, serve
from meshgate.cli.main import build_parser
from meshgate.errors import UsageError
from meshgate.server.options import ANY_ADDRESS, WorkloadOptions, parse_address

FLAGS = ["--listen", "--grpc", "--http", "--admin"]


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:9191", ("::1", 9191)),
        (":9", (ANY_ADDRESS, 9)),
        ("0.0.0.0:15000", ("0.0.0.0", 15000)),
    ],
)
def test_address(flag: str, text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text, flag) == expected


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("text", ["8080", "host:", "host:x", "h:70000", "[::1", "[::1]x:80", ":"])
def test_bad_address_is_a_usage_error_naming_the_flag(flag: str, text: str) -> None:
    with pytest.raises(UsageError, match=f"^{flag}: expected HOST:PORT"):
        parse_address(text, flag)


SHARED = [
    "--namespace", "prod", "--labels", "app=a,tier=b", "--root-namespace", "mesh-root", "--trusted-proxies", "2",
    "--path-normalization", "MERGE_SLASHES", "--admin", ":15001", "--jwks-min-refresh", "5", "--ca-file", "ca.pem",
    "--access-log-format", "json", "--mesh-config", "mesh.yaml",
]  # fmt: skip


@pytest.mark.parametrize(("command", "module"), [("serve", serve), ("authz-server", authz_server)])
def test_both_commands_read_the_shared_flags_alike(command: str, module: object) -> None:
    args = build_parser().parse_args([command, "-c", "policies", *SHARED])
    opts = module.options_from_args(args)  # type: ignore[attr-defined]
    shared = {name: getattr(opts, name) for name in WorkloadOptions.__dataclass_fields__}
    assert shared == {
        "config_paths": ("policies",),
        "namespace": "prod",
        "labels": {"app": "a", "tier": "b"},
        "root_namespace": "mesh-root",
        "admin": ":15001",
        "trusted_proxies": 2,
        "path_normalization": opts.path_normalization.__class__("MERGE_SLASHES"),
        "jwks_min_refresh": 5.0,
        "ca_file": "ca.pem",
        "access_log_format": "json",
        "mesh_config": "mesh.yaml",
    }
