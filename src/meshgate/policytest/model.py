"""A test file as values: cases, the requests they send, and what they expect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshgate.config.model import Workload

DEFAULT_EXPIRES_IN_S = 3600
TOKEN_PLACEHOLDER = "$TOKEN"  # in a header value or the path: put the case's token there instead


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """Exactly one of `literal` (a JWT), `file` (a file holding one), `key` (a PEM private key that signs
    `claims`) or `new_key` (an alg: a key made for this run, so in no JWKS: "a stranger's token")."""

    line: int
    literal: str | None = None
    file: str | None = None
    key: str | None = None
    new_key: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    alg: str | None = None
    kid: str | None = None
    expires_in: int = DEFAULT_EXPIRES_IN_S


@dataclass(frozen=True, slots=True)
class RequestSpec:
    method: str = "GET"
    path: str = "/"
    host: str = "localhost"
    scheme: str = "http"
    port: int = 8080
    headers: tuple[tuple[str, str], ...] = ()
    source_ip: str = "127.0.0.1"
    token: TokenSpec | None = None


@dataclass(frozen=True, slots=True)
class Expectation:
    """One expected fact. `key` names the header for `headers` / `upstream_headers`; `None` values mean
    "absent" (no policy matched, no JWT check failed, not forwarded, header removed)."""

    field: str
    value: Any
    line: int
    key: str = ""


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    file: str
    line: int
    request: RequestSpec
    workload: Workload
    expect: tuple[Expectation, ...]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class PolicyTestFile:
    path: str
    config: tuple[str, ...]  # resolved against the file's directory
    jwks: dict[str, str]  # jwksUri → local JWKS file (resolved)
    cases: tuple[Case, ...]
    jwks_lines: dict[str, int] = field(default_factory=dict)
