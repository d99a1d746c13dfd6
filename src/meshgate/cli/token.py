"""`meshgate token --key key.pem ...`: a signed JWT, as Istio's gen-jwt.py mints them (jose/mint.py)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from meshgate.errors import EXIT_OK, UsageError
from meshgate.jose.mint import build_claims, sign_token

HELP = "sign a JWT (Istio's gen-jwt.py, built in)"


def add_arguments(p: argparse.ArgumentParser) -> None:
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


def _parse_claim_flags(items: list[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--claim: expected k=v, got {item!r}")
        claims[key] = value
    return claims


def run(args: argparse.Namespace) -> int:
    try:
        with open(args.key, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        raise UsageError(f"--key: {exc}") from exc
    extra = _parse_claim_flags(args.claim)
    if args.claims_json:
        try:
            more = json.loads(args.claims_json)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--claims-json: {exc}") from exc
        if not isinstance(more, dict):
            raise UsageError("--claims-json: expected a JSON object")
        extra.update(more)
    claims = build_claims(
        iss=args.iss,
        sub=args.sub if args.sub is not None else args.iss,
        aud=list(args.aud),
        extra=extra,
        expires_in=args.expires_in,
        nbf=args.nbf,
        now=int(time.time()),
    )
    try:
        token = sign_token(pem, claims, alg=args.alg, kid=args.kid)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    sys.stdout.write(token + "\n")
    return EXIT_OK
