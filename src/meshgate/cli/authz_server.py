"""`meshgate authz-server`: the engine as an external authorizer (extauthz/service.py runs it)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from meshgate.cli.options import add_serving_flags, add_workload_flags, parse_labels
from meshgate.engine.options import PathNormalization
from meshgate.extauthz.http_request import HTTP_MODES

if TYPE_CHECKING:
    from meshgate.extauthz.service import AuthzServerOptions

HELP = "external authorizer for Envoy ext_authz (gRPC/HTTP) and nginx"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workload_flags(p)
    p.add_argument("--grpc", default="127.0.0.1:9191", metavar="HOST:PORT", help="'' turns it off")
    p.add_argument("--http", default="127.0.0.1:9192", metavar="HOST:PORT", help="'' turns it off")
    p.add_argument("--http-path-prefix", default="", help="prefix Envoy's HTTP ext_authz adds (pathPrefix)")
    p.add_argument(
        "--http-mode",
        default="auto",
        choices=list(HTTP_MODES),
        help="who calls the HTTP port: envoy (ext_authz HTTP), nginx (auth_request), forward-auth (Traefik); "
        "auto reads x-original-uri / x-forwarded-uri when present (default: auto)",
    )
    add_serving_flags(p, ["envoy", "json"])


def options_from_args(args: argparse.Namespace) -> AuthzServerOptions:
    from meshgate.extauthz.service import AuthzServerOptions

    return AuthzServerOptions(
        config_paths=tuple(args.config),
        grpc=args.grpc,
        http=args.http,
        namespace=args.namespace,
        labels=parse_labels(args.labels),
        root_namespace=args.root_namespace,
        admin=args.admin,
        trusted_proxies=args.trusted_proxies,
        path_normalization=PathNormalization(args.path_normalization),
        mesh_config=args.mesh_config,
        http_path_prefix=args.http_path_prefix,
        http_mode=args.http_mode,
        jwks_min_refresh=args.jwks_min_refresh,
        ca_file=args.ca_file,
        access_log_format=args.access_log_format,
    )


def run(args: argparse.Namespace) -> int:
    from meshgate.extauthz.service import authz_server_main

    return authz_server_main(options_from_args(args))
