"""`meshgate serve`: the gateway in front of an upstream (gateway/serve.py runs it)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from meshgate.cli.options import add_serving_flags, add_workload_flags, workload_fields

if TYPE_CHECKING:
    from meshgate.gateway.serve import ServeOptions

HELP = "run the gateway in front of an upstream"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workload_flags(p)
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    p.add_argument("--upstream", metavar="URL", help="default: the built-in `Hello World!` app")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--upstream-timeout", type=float, default=15.0, metavar="S")
    p.add_argument(
        "--upstream-protocol",
        choices=("http1", "h2"),
        default="http1",
        help="HTTP/1.1 (default) or HTTP/2 to the upstream (h2c for http://, ALPN h2 for https://)",
    )
    p.add_argument(
        "--bind", default="127.0.0.1", metavar="HOST",
        help="host of the ports Gateways selecting --labels ask for (then --listen/--upstream are not used)",
    )  # fmt: skip
    add_serving_flags(p, ["envoy", "json", "off"])


def options_from_args(args: argparse.Namespace) -> ServeOptions:
    """Translate `serve` flags into the gateway's options value."""
    from meshgate.gateway.serve import ServeOptions

    return ServeOptions(
        **workload_fields(args),
        listen=args.listen,
        upstream=args.upstream,
        workers=args.workers,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        upstream_timeout=args.upstream_timeout,
        upstream_protocol=args.upstream_protocol,
        bind=args.bind,
    )


def run(args: argparse.Namespace) -> int:
    from meshgate.gateway.serve import serve_main

    return serve_main(options_from_args(args))
