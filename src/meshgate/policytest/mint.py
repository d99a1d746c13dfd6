"""A case's token: a literal JWT, one read from a file, or minted now with `meshgate token`'s signer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshgate.jose.mint import generate_key, load_private_key, sign_token
from meshgate.policytest.model import TokenSpec


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    public_key: Any = None  # the signer's public key when minted from a PEM (to look for in the JWKS)
    key_file: str = ""


@dataclass
class Minter:
    """Mints at one `now` for the whole run; a `new_key` alg gets one fresh key per run."""

    now: int
    fresh: dict[str, bytes] = field(default_factory=dict)

    def token(self, spec: TokenSpec) -> Token:
        """Raises ValueError / OSError with a readable message (the caller adds `file:line`)."""
        if spec.literal is not None:
            return Token(spec.literal)
        if spec.file is not None:
            with open(spec.file, encoding="utf-8") as fh:
                return Token(fh.read().strip())
        claims: dict[str, Any] = {"iat": self.now, "exp": self.now + spec.expires_in, **spec.claims}
        claims = {k: v for k, v in claims.items() if v is not None}  # `exp: null`: a token without exp
        if spec.new_key is not None:
            pem = self.fresh.get(spec.new_key)
            if pem is None:
                pem = self.fresh[spec.new_key] = generate_key(spec.new_key)[0]
            return Token(sign_token(pem, claims, alg=spec.alg, kid=spec.kid))
        assert spec.key is not None
        with open(spec.key, "rb") as fh:
            pem = fh.read()
        if spec.alg is not None and spec.alg.startswith("HS"):
            return Token(sign_token(pem, claims, alg=spec.alg, kid=spec.kid), pem, spec.key)
        public = load_private_key(pem).public_key()
        return Token(sign_token(pem, claims, alg=spec.alg, kid=spec.kid), public, spec.key)
