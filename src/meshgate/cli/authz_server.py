"""`meshgate authz-server`: the engine as an external authorizer (extauthz/service.py runs it)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from meshgate.cli.options import add_serving_flags, add_workload_flags, workload_fields
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
        **workload_fields(args),
        grpc=args.grpc,
        http=args.http,
        http_path_prefix=args.http_path_prefix,
        http_mode=args.http_mode,
    )


def run(args: argparse.Namespace) -> int:
    from meshgate.extauthz.service import authz_server_main

    return authz_server_main(options_from_args(args))
