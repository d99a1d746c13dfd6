"""One JWKS fetch: GET (or read) a document and parse it; every way it can go wrong is a failed result.

Envoy treats a non-200 status, an empty body, a network error or an invalid JWKS as `JwksFetchFail`
(envoyproxy/envoy:source/extensions/filters/http/jwt_authn/jwks_cache.cc, docs/istio-semantics.md §3.6);
meshgate adds a size limit, refuses redirects to another origin, and reads `file://` sources.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from yarl import URL

from meshgate.jose.keys import KeySet
from meshgate.jose.status import JwtStatus
from meshgate.keystore.sources import SourceKind, SourceSpec, same_origin

Parser = Callable[[str], KeySet]

DEFAULT_MAX_BYTES = 1 << 20
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_MAX_AGE = re.compile(r'(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A usable key set (with the document's digest and `Cache-Control: max-age`), or the error."""

    keyset: KeySet | None
    error: str = ""
    max_age_s: float | None = None
    digest: str = ""

    @property
    def ok(self) -> bool:
        return self.keyset is not None


class FetchError(Exception):
    """Internal: one reason a fetch failed; turned into a failed FetchResult, never escapes."""


def parse_max_age(cache_control: str) -> float | None:
    """`max-age` seconds from a Cache-Control value (RFC 9111 §5.2.2.1), or None when absent."""
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def _default_parse(text: str) -> KeySet:
    from meshgate.jose.jwks import parse_jwks

    return parse_jwks(text)


class Fetcher:
    """Fetches documents for the key store over one aiohttp ClientSession (created on first use)."""

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        parse: Parser | None = None,
    ) -> None:
        self.ca_file = ca_file
        self.max_bytes = max_bytes
        self._parse = parse or _default_parse
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | None = None
        self._ssl_problem = ""

    async def fetch(self, spec: SourceSpec, timeout_s: float) -> FetchResult:
        """Fetch and parse `spec` within `timeout_s`; returns a failed result instead of raising."""
        try:
            async with asyncio.timeout(timeout_s):
                if spec.kind is SourceKind.FILE:
                    body, max_age = await asyncio.to_thread(self._read_file, spec.path), None
                elif spec.kind in (SourceKind.HTTP, SourceKind.HTTPS):
                    body, max_age = await self._get(spec.uri)
                else:
                    raise FetchError(spec.problem)
            return self._parse_body(body, max_age)
        except FetchError as exc:
            return FetchResult(None, str(exc))
        except TimeoutError:
            return FetchResult(None, f"timed out after {timeout_s:g}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return FetchResult(None, f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _parse_body(self, body: bytes, max_age: float | None) -> FetchResult:
        if not body:
            raise FetchError("empty body")
        try:
            keyset = self._parse(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise FetchError(f"body is not UTF-8: {exc}") from None
        if keyset.status is not JwtStatus.OK:
            raise FetchError(keyset.status.message)
        return FetchResult(keyset, max_age_s=max_age, digest=hashlib.sha256(body).hexdigest())

    def _read_file(self, path: str) -> bytes:
        size = os.stat(path).st_size
        if size > self.max_bytes:
            raise FetchError(f"document larger than {self.max_bytes} bytes")
        with open(path, "rb") as f:
            body = f.read(self.max_bytes + 1)
        if len(body) > self.max_bytes:
            raise FetchError(f"document larger than {self.max_bytes} bytes")
        return body

    async def _get(self, uri: str) -> tuple[bytes, float | None]:
        session = self._get_session()
        url = URL(uri, encoded=False)
        for _ in range(MAX_REDIRECTS + 1):
            async with session.get(url, allow_redirects=False) as resp:
                if resp.status in REDIRECT_STATUSES and "Location" in resp.headers:
                    target = url.join(URL(resp.headers["Location"]))
                    if not same_origin(str(url), str(target)):
                        raise FetchError(f"redirect to another origin refused: {target}")
                    url = target
                    continue
                if resp.status != 200:
                    raise FetchError(f"HTTP status {resp.status}")
                body = await self._read_body(resp)
                max_age = parse_max_age(",".join(resp.headers.getall("Cache-Control", [])))
                return body, max_age
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        too_big = f"document larger than {self.max_bytes} bytes"
        if resp.content_length is not None and resp.content_length > self.max_bytes:
            raise FetchError(too_big)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(too_big)
            chunks.append(chunk)
        return b"".join(chunks)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._ssl_problem:
            raise FetchError(self._ssl_problem)
        if self._session is None:
            try:
                self._ssl = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                self._ssl_problem = f"cannot load CA file {self.ca_file}: {exc}"
                raise FetchError(self._ssl_problem) from None
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=0)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session
