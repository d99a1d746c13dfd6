"""`meshgate COMMAND ...`: the parser and the dispatch; every command's flags and work live in its module.

Exit codes (errors.py): 0 success / allowed, 1 invalid / denied / failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from meshgate import __version__
from meshgate.cli import authz_server, check, demo, keygen, serve, test, token, validate
from meshgate.errors import EXIT_USAGE, MeshgateError, UsageError

# `meshgate --help` lists them in this order. Each module has HELP, add_arguments(parser) and run(args).
COMMANDS: dict[str, ModuleType] = {
    "validate": validate,
    "check": check,
    "test": test,
    "keygen": keygen,
    "token": token,
    "serve": serve,
    "authz-server": authz_server,
    "demo": demo,
}
EXIT_INTERRUPTED = 130  # the shell's 128 + SIGINT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshgate",
        description="Istio RequestAuthentication + AuthorizationPolicy in front of any HTTP service.",
    )
    parser.add_argument("--version", action="version", version=f"meshgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = COMMANDS[args.command].run
    try:
        return run(args)
    except UsageError as exc:
        print(f"meshgate {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MeshgateError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
