"""`meshgate keygen --alg ALG --out key.pem [--jwks jwks.json]`: a signing key, kid = RFC 7638 thumbprint."""

from __future__ import annotations

import argparse
import json
import os

from meshgate.errors import EXIT_OK
from meshgate.jose.mint import generate_key

HELP = "generate a signing key (kid = RFC 7638 thumbprint)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alg", default="RS256", choices=["RS256", "PS256", "ES256", "ES384", "EdDSA"])
    p.add_argument("--out", required=True, help="private key PEM to write")
    p.add_argument("--jwks", help="also write the public JWKS here")


def run(args: argparse.Namespace) -> int:
    pem, jwk = generate_key(args.alg)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    if args.jwks:
        with open(args.jwks, "w", encoding="utf-8") as fh:
            json.dump({"keys": [jwk]}, fh, indent=2)
            fh.write("\n")
    print(f"wrote {args.out} ({args.alg}, kid {jwk['kid']})" + (f" and {args.jwks}" if args.jwks else ""))
    return EXIT_OK
