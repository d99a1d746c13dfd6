"""What several commands share: the workload flags and the `k=v,...` labels they carry."""

from __future__ import annotations

import argparse
from typing import Any

from meshgate.config.model import DEFAULT_ROOT_NAMESPACE
from meshgate.engine.options import PathNormalization
from meshgate.errors import UsageError


def parse_labels(text: str) -> dict[str, str]:
    """`k=v,k2=v2` → dict; the workload labels Istio selectors match against."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--labels: expected k=v[,k=v...], got {item!r}")
        labels[key] = value
    return labels


def add_workload_flags(p: argparse.ArgumentParser) -> None:
    """The policies and the workload they are selected for (check, serve, authz-server)."""
    p.add_argument(
        "-c",
        "--config",
        action="append",
        required=True,
        metavar="PATH",
        help="file or directory of Istio YAML/JSON (repeatable)",
    )
    p.add_argument("--namespace", default="default", help="workload namespace (default: default)")
    p.add_argument("--labels", default="", help="workload labels k=v,k2=v2")
    p.add_argument(
        "--root-namespace",
        default=DEFAULT_ROOT_NAMESPACE,
        help=f"Istio root namespace (default: {DEFAULT_ROOT_NAMESPACE})",
    )
    p.add_argument(
        "--trusted-proxies",
        type=int,
        default=0,
        metavar="N",
        help="X-Forwarded-For hops to trust for remote.ip (default 0: the peer address)",
    )
    p.add_argument(
        "--path-normalization",
        default="BASE",
        choices=[m.value for m in PathNormalization],
        help="Istio pathNormalization (default BASE)",
    )


def add_serving_flags(p: argparse.ArgumentParser, access_log_formats: list[str]) -> None:
    """What a serving process (serve, authz-server) adds: admin port, key sets, access log, mesh config."""
    p.add_argument("--admin", default="127.0.0.1:15000", metavar="HOST:PORT")
    p.add_argument("--jwks-min-refresh", type=float, default=30.0, metavar="S")
    p.add_argument("--ca-file", help="CA bundle for https jwksUri (default: system CAs)")
    p.add_argument("--access-log-format", default="envoy", choices=access_log_formats)
    p.add_argument(
        "--mesh-config",
        metavar="FILE",
        help="Istio mesh config whose `extensionProviders` serve CUSTOM policies",
    )


def workload_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The WorkloadOptions fields (server/options.py) both serving commands read from their flags."""
    return {
        "config_paths": tuple(args.config),
        "namespace": args.namespace,
        "labels": parse_labels(args.labels),
        "root_namespace": args.root_namespace,
        "admin": args.admin,
        "trusted_proxies": args.trusted_proxies,
        "path_normalization": PathNormalization(args.path_normalization),
        "jwks_min_refresh": args.jwks_min_refresh,
        "ca_file": args.ca_file,
        "access_log_format": args.access_log_format,
        "mesh_config": args.mesh_config,
    }
