"""`meshgate keygen` and `meshgate token`: Istio's gen-jwt.py, built in (istio-semantics.md §5)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from meshgate.errors import UsageError
from meshgate.jose.mint import build_claims, generate_key, sign_token


def run_keygen(args: argparse.Namespace) -> int:
    pem, jwk = generate_key(args.alg)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    if args.jwks:
        with open(args.jwks, "w", encoding="utf-8") as fh:
            json.dump({"keys": [jwk]}, fh, indent=2)
            fh.write("\n")
    print(f"wrote {args.out} ({args.alg}, kid {jwk['kid']})" + (f" and {args.jwks}" if args.jwks else ""))
    return 0


def _parse_claim_flags(items: list[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--claim: expected k=v, got {item!r}")
        claims[key] = value
    return claims


def run_token(args: argparse.Namespace) -> int:
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
    return 0
