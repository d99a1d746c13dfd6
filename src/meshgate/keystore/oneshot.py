"""One synchronous JWKS fetch per source, for offline commands (`check`); the gateway uses the store.

Supports `http://`, `https://` (system CAs) and meshgate's `file://` extension, with the rule's timeout.
A failure leaves the URI out of the snapshot, so the engine answers `Jwks remote fetch is failed`.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from meshgate.jose.jwks import parse_jwks
from meshgate.jose.keys import KeySet
from meshgate.jose.status import JwtStatus

MAX_JWKS_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    uri: str
    keyset: KeySet | None
    error: str = ""


def read_jwks_document(uri: str, timeout_s: float) -> str:
    """The document's text; raises OSError/ValueError with a readable message on any failure."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        with open(urllib.request.url2pathname(parsed.path), "rb") as fh:
            data = fh.read(MAX_JWKS_BYTES + 1)
    elif parsed.scheme in ("http", "https"):
        request = urllib.request.Request(uri, headers={"accept": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            data = response.read(MAX_JWKS_BYTES + 1)
    else:
        raise ValueError(f"unsupported scheme {parsed.scheme!r}")
    if len(data) > MAX_JWKS_BYTES:
        raise ValueError(f"document larger than {MAX_JWKS_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


def fetch_once(uri: str, timeout_s: float) -> FetchOutcome:
    try:
        text = read_jwks_document(uri, timeout_s)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        return FetchOutcome(uri, None, f"fetch failed: {exc}")
    keyset = parse_jwks(text)
    if keyset.status is not JwtStatus.OK:
        return FetchOutcome(uri, None, f"unusable JWKS: {keyset.status.message}")
    return FetchOutcome(uri, keyset)


def fetch_all(sources: Iterable[tuple[str, float]]) -> list[FetchOutcome]:
    return [fetch_once(uri, timeout) for uri, timeout in sources]
