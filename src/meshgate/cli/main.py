"""Command-line parsing and exit codes only; every command's work lives in its own module.

Exit codes: 0 success / allowed, 1 invalid / denied, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from meshgate import __version__
from meshgate.config.model import DEFAULT_ROOT_NAMESPACE
from meshgate.engine.options import PathNormalization
from meshgate.errors import MeshgateError, UsageError
from meshgate.extauthz.http_request import HTTP_MODES

if TYPE_CHECKING:
    from meshgate.extauthz.service import AuthzServerOptions
    from meshgate.gateway.serve import ServeOptions

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_USAGE = 2


def parse_labels(text: str) -> dict[str, str]:
    """`k=v,k2=v2` → dict; the workload labels Istio selectors match against."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--labels: expected k=v[,k=v...], got {item!r}")
        labels[key] = value
    return labels


def _add_workload_flags(p: argparse.ArgumentParser) -> None:
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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshgate",
        description="Istio RequestAuthentication + AuthorizationPolicy in front of any HTTP service.",
    )
    parser.add_argument("--version", action="version", version=f"meshgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="validate Istio resources like istiod; exit 0 when valid")
    p.add_argument("-c", "--config", action="append", required=True, metavar="PATH")

    p = sub.add_parser("check", help="decide one request offline and explain why")
    _add_workload_flags(p)
    p.add_argument("--method", default="GET")
    p.add_argument("--host", default="localhost")
    p.add_argument("--path", default="/")
    p.add_argument("--scheme", default="http", choices=["http", "https"])
    p.add_argument("--port", type=int, default=8080, help="the port the request arrives on (Istio `ports`)")
    p.add_argument("--header", action="append", default=[], metavar="'K: V'")
    p.add_argument("--token", help="JWT sent as `Authorization: Bearer <token>`")
    p.add_argument("--source-ip", default="127.0.0.1")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("test", help="run policy unit tests (cases decided offline); exit 0 when all pass")
    from meshgate.cli.test import add_arguments as add_test_arguments

    add_test_arguments(p)

    p = sub.add_parser("keygen", help="generate a signing key (kid = RFC 7638 thumbprint)")
    p.add_argument("--alg", default="RS256", choices=["RS256", "PS256", "ES256", "ES384", "EdDSA"])
    p.add_argument("--out", required=True, help="private key PEM to write")
    p.add_argument("--jwks", help="also write the public JWKS here")

    p = sub.add_parser("token", help="sign a JWT (Istio's gen-jwt.py, built in)")
    p.add_argument("--key", required=True, help="private key PEM")
    p.add_argument("--iss", default="testing@secure.istio.io")
    p.add_argument("--sub", help="default: the issuer")
    p.add_argument("--aud", action="append", default=[])
    p.add_argument("--claim", action="append", default=[], metavar="K=V")
    p.add_argument("--claims-json", help="JSON object merged into the payload")
    p.add_argument("--expires-in", type=int, default=3600, metavar="S")
    p.add_argument("--nbf", type=int, metavar="S", help="not-before, seconds from now (may be negative)")
    p.add_argument("--kid")
    p.add_argument(
        "--alg",
        help="default from the key: RSA→RS256 (pass PS256 for PSS keys), EC→ES256/ES384, Ed25519→EdDSA",
    )

    p = sub.add_parser("serve", help="run the gateway in front of an upstream")
    _add_workload_flags(p)
    _add_serve_flags(p)

    p = sub.add_parser("authz-server", help="external authorizer for Envoy ext_authz (gRPC/HTTP) and nginx")
    _add_workload_flags(p)
    p.add_argument("--grpc", default="127.0.0.1:9191", metavar="HOST:PORT", help="'' turns it off")
    p.add_argument("--http", default="127.0.0.1:9192", metavar="HOST:PORT", help="'' turns it off")
    p.add_argument("--admin", default="127.0.0.1:15000", metavar="HOST:PORT")
    p.add_argument("--http-path-prefix", default="", help="prefix Envoy's HTTP ext_authz adds (pathPrefix)")
    p.add_argument(
        "--http-mode",
        default="auto",
        choices=list(HTTP_MODES),
        help="who calls the HTTP port: envoy (ext_authz HTTP), nginx (auth_request), forward-auth (Traefik); "
        "auto reads x-original-uri / x-forwarded-uri when present (default: auto)",
    )
    p.add_argument("--mesh-config", metavar="FILE")
    p.add_argument("--jwks-min-refresh", type=float, default=30.0, metavar="S")
    p.add_argument("--ca-file")
    p.add_argument("--access-log-format", default="envoy", choices=["envoy", "json"])

    p = sub.add_parser("demo", help="the Istio seed scenario, self-contained and offline")
    p.add_argument("--listen", default="127.0.0.1:8080")
    p.add_argument("--admin", default="127.0.0.1:15000")
    p.add_argument("--exit-after", type=float, default=None, help=argparse.SUPPRESS)
    return parser


def _add_serve_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    p.add_argument("--upstream", metavar="URL", help="default: the built-in `Hello World!` app")
    p.add_argument("--admin", default="127.0.0.1:15000", metavar="HOST:PORT")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--upstream-timeout", type=float, default=15.0, metavar="S")
    p.add_argument("--jwks-min-refresh", type=float, default=30.0, metavar="S")
    p.add_argument("--ca-file", help="CA bundle for https jwksUri (default: system CAs)")
    p.add_argument("--access-log-format", default="envoy", choices=["envoy", "json", "off"])
    p.add_argument(
        "--mesh-config",
        metavar="FILE",
        help="Istio mesh config whose `extensionProviders` serve CUSTOM policies",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        print(f"meshgate {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MeshgateError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    command: str = args.command
    if command == "validate":
        from meshgate.cli.validate import run_validate

        return run_validate(args.config, sys.stdout)
    if command == "check":
        from meshgate.cli.check import run_check

        return run_check(args, sys.stdout)
    if command == "test":
        from meshgate.cli.test import run_test

        return run_test(args, sys.stdout, sys.stderr)
    if command in ("keygen", "token"):
        from meshgate.cli import token as token_cmd

        return token_cmd.run_keygen(args) if command == "keygen" else token_cmd.run_token(args)
    if command == "serve":
        from meshgate.gateway.serve import serve_main

        return serve_main(serve_options_from_args(args))
    if command == "authz-server":
        from meshgate.extauthz.service import authz_server_main

        return authz_server_main(authz_options_from_args(args))
    if command == "demo":
        from meshgate.cli.demo import run_demo

        return run_demo(args.listen, args.admin, args.exit_after)
    raise UsageError(f"unknown command {command}")


def serve_options_from_args(args: argparse.Namespace) -> ServeOptions:
    """Translate `serve` flags into the gateway's options value."""
    from meshgate.gateway.serve import ServeOptions

    return ServeOptions(
        config_paths=tuple(args.config),
        listen=args.listen,
        upstream=args.upstream,
        namespace=args.namespace,
        labels=parse_labels(args.labels),
        root_namespace=args.root_namespace,
        admin=args.admin,
        workers=args.workers,
        trusted_proxies=args.trusted_proxies,
        path_normalization=PathNormalization(args.path_normalization),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        upstream_timeout=args.upstream_timeout,
        jwks_min_refresh=args.jwks_min_refresh,
        ca_file=args.ca_file,
        access_log_format=args.access_log_format,
        mesh_config=args.mesh_config,
    )


def authz_options_from_args(args: argparse.Namespace) -> AuthzServerOptions:
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


if __name__ == "__main__":
    sys.exit(main())
