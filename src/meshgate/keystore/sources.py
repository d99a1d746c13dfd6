"""Where a key set comes from: a `jwksUri` classified as http(s) or meshgate's `file://` extension.

Envoy and istiod only know http(s) (docs/istio-semantics.md §3.6); `file://` is meshgate's: the store
reads the file and treats an mtime change as new keys. Inline `jwks` never reaches the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol
from urllib.parse import unquote, urlsplit


class JwksSourceLike(Protocol):
    """What the store needs of the engine's `JwksSource` (the store never imports the engine)."""

    @property
    def uri(self) -> str: ...

    @property
    def timeout_s(self) -> float: ...


class SourceKind(Enum):
    HTTP = "http"
    HTTPS = "https"
    FILE = "file"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A classified source: `path` is the local file for FILE, `problem` says why UNSUPPORTED."""

    uri: str
    kind: SourceKind
    path: str = ""
    problem: str = ""


def classify(uri: str) -> SourceSpec:
    """Classify a jwksUri; an unusable one becomes UNSUPPORTED (its fetches fail), never an exception."""
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        return SourceSpec(uri, SourceKind.UNSUPPORTED, problem=f"invalid URI: {exc}")
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            return SourceSpec(uri, SourceKind.UNSUPPORTED, problem="URI has no host")
        return SourceSpec(uri, SourceKind.HTTP if scheme == "http" else SourceKind.HTTPS)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return SourceSpec(uri, SourceKind.UNSUPPORTED, problem="file URI must name a local path")
        path = unquote(parts.path)
        if not path:
            return SourceSpec(uri, SourceKind.UNSUPPORTED, problem="file URI has no path")
        return SourceSpec(uri, SourceKind.FILE, path=path)
    return SourceSpec(uri, SourceKind.UNSUPPORTED, problem=f"unsupported scheme {scheme!r}")


def same_origin(a: str, b: str) -> bool:
    """True when both URLs share scheme, host and port (redirects elsewhere are refused)."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme.lower(), pa.hostname, _port(pa.scheme, pa.port)) == (
        pb.scheme.lower(),
        pb.hostname,
        _port(pb.scheme, pb.port),
    )


def _port(scheme: str, port: int | None) -> int | None:
    if port is not None:
        return port
    return {"http": 80, "https": 443}.get(scheme.lower())
