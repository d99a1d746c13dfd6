"""One request's attributes: the single value every front builds and the engine decides on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from meshgate.errors import UsageError


def build_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Group raw (name, value) pairs by lower-cased name, keeping every value in arrival order."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name.lower(), []).append(value)
    return {name: tuple(values) for name, values in grouped.items()}


def parse_header_line(text: str) -> tuple[str, str]:
    """`Name: value` (a `--header` flag, a line of the admin page's form) → (name, value), trimmed."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise UsageError(f"--header: expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


@dataclass(slots=True)
class RequestAttributes:
    """What the engine knows of a request, exactly as it arrived (nothing normalized yet). A plain record:
    every front builds one per request.

    `path` is the raw request-target (`:path`, query included); the engine normalizes it once.
    `headers` maps lower-cased names to every value in arrival order. `peer_ip` is the TCP peer,
    `local_port` the port the connection arrived on (Istio's `ports` / `destination.port`).
    """

    method: str
    path: str
    authority: str = ""
    scheme: str = "http"
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    peer_ip: str = "127.0.0.1"
    local_port: int = 8080
    local_ip: str = "127.0.0.1"
    sni: str = ""

    def header(self, name: str) -> str | None:
        """All values of header `name` joined with `,` as Envoy does, or None when absent."""
        values = self.headers.get(name.lower())
        if values is None:
            return None
        return ",".join(values)
