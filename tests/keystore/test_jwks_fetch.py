"""One JWKS fetch over real loopback sockets: every failure is a failed result, never an exception.

Envoy: non-200, empty body, network error or invalid JWKS → JwksFetchFail (jwks_cache.cc, semantics §1.6).
meshgate additions: 1 MiB limit, rule timeout, no redirect to another origin, file://.
"""

from __future__ import annotations

import asyncio
import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.jwks_server import ISTIO_JWKS, ISTIO_KID, JwksServer, make_test_ca

from meshgate.keystore.fetch import Fetcher, FetchResult, parse_max_age
from meshgate.keystore.sources import SourceKind, classify

Setup = Callable[[JwksServer], None]
GZIP = {"Content-Encoding": "gzip"}
GZIPPED_JWKS = gzip.compress(ISTIO_JWKS.encode())
GZIP_BOMB = gzip.compress(b" " * (16 << 20) + ISTIO_JWKS.encode())  # ~16 KiB on the wire, 16 MiB decoded


def _set(**attrs: Any) -> Setup:
    def setup(server: JwksServer) -> None:
        for name, value in attrs.items():
            setattr(server, name, value)

    return setup


async def _fetch_from(
    server: JwksServer, *, timeout_s: float = 2.0, path: str = "/jwks.json", **kw: Any
) -> FetchResult:
    fetcher = Fetcher(**kw)
    await server.start()
    try:
        return await fetcher.fetch(classify(server.url(path)), timeout_s)
    finally:
        await fetcher.close()
        await server.stop()


HTTP_CASES = [
    # (id, setup, timeout_s, expected error substring; "" = success with the Istio sample kid)
    ("200-istio-sample-jwks", _set(), 2.0, ""),
    ("404-envoy-non-200", _set(status=404), 2.0, "HTTP status 404"),
    ("500-envoy-non-200", _set(status=500), 2.0, "HTTP status 500"),
    ("204-not-200", _set(status=204, document=""), 2.0, "HTTP status 204"),
    ("empty-body-envoy", _set(document=""), 2.0, "empty body"),
    ("garbage-json-jwks-parse-error", _set(document="<html>nope</html>"), 2.0, "Jwks is an invalid JSON"),
    ("no-keys-field", _set(document='{"foo": 1}'), 2.0, "Jwks does not have [keys] field"),
    ("no-valid-key", _set(document='{"keys": []}'), 2.0, "Jwks doesn't have any valid public key"),
    ("not-utf8", _set(document=b'{"keys": "\xff\xfe"}'), 2.0, "not UTF-8"),
    (
        "huge-content-length",
        _set(document=b" " * (1 << 20) + ISTIO_JWKS.encode()),
        5.0,
        "larger than 1048576",
    ),
    ("huge-chunked", _set(document=b" " * (1 << 20) + ISTIO_JWKS.encode(), chunked=True), 5.0, "larger than"),
    ("exactly-limit-is-fine", _set(document=ISTIO_JWKS.encode().ljust(1 << 20)), 5.0, ""),
    ("slow-beyond-rule-timeout", _set(delay_s=1.0), 0.2, "timed out after 0.2s"),
    ("same-origin-redirect-followed", _set(redirect_to="/moved.json"), 2.0, ""),
    (
        "cross-origin-redirect-refused",
        _set(redirect_to="http://127.0.0.2:1/jwks.json"),
        2.0,
        "another origin",
    ),
    ("chunked-ok", _set(chunked=True), 2.0, ""),
    # keys only from the configured URI — no redirect to another origin, bounded redirects,
    # the size limit counts decoded bytes (a gzip bomb stops at the limit)
    ("redirect-other-port-refused", _set(redirect_to="http://127.0.0.1:1/jwks.json"), 2.0, "another origin"),
    ("redirect-scheme-relative-refused", _set(redirect_to="//127.0.0.2/jwks.json"), 2.0, "another origin"),
    ("redirect-loop-bounded", _set(redirect_to="/jwks.json"), 2.0, "more than 5 redirects"),
    ("gzip-encoded-ok", _set(document=GZIPPED_JWKS, headers=GZIP), 2.0, ""),
    ("gzip-bomb-beyond-limit", _set(document=GZIP_BOMB, headers=GZIP), 5.0, "larger than 1048576"),
]


@pytest.mark.parametrize(
    ("setup", "timeout_s", "error"), [c[1:] for c in HTTP_CASES], ids=[c[0] for c in HTTP_CASES]
)
def test_http_fetch(setup: Setup, timeout_s: float, error: str) -> None:
    server = JwksServer()
    setup(server)
    result = asyncio.run(_fetch_from(server, timeout_s=timeout_s))
    if error:
        assert result.keyset is None and error in result.error, result
    else:
        assert result.keyset is not None and result.keyset.kids == (ISTIO_KID,), result
        assert len(result.digest) == 64


def test_https_with_test_ca(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    result = asyncio.run(_fetch_from(JwksServer(tls=ca), ca_file=ca.ca_file))
    assert result.keyset is not None and result.keyset.kids == (ISTIO_KID,), result.error


@pytest.mark.parametrize("trust", ["wrong-ca", "system-cas"])
def test_https_untrusted_certificate_fails(tmp_path: Path, trust: str) -> None:
    ca = make_test_ca(tmp_path / "ca")
    other = make_test_ca(tmp_path / "other", name="some other CA")
    ca_file = other.ca_file if trust == "wrong-ca" else None
    result = asyncio.run(_fetch_from(JwksServer(tls=ca), ca_file=ca_file))
    assert result.keyset is None and "certificate" in result.error.lower(), result.error


def test_https_redirect_to_plain_http_is_refused(tmp_path: Path) -> None:
    """Same host and port, another scheme: a downgrade is another origin (RFC 6454)."""
    ca = make_test_ca(tmp_path / "ca")
    server = JwksServer(tls=ca)
    server.redirect_to = f"http://127.0.0.1:{server.port}/moved.json"
    result = asyncio.run(_fetch_from(server, ca_file=ca.ca_file))
    assert result.keyset is None and "another origin" in result.error, result


def test_proxy_environment_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """trust_env=False: HTTP(S)_PROXY cannot route a key fetch elsewhere (here: to a dead proxy)."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:1")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = asyncio.run(_fetch_from(JwksServer()))
    assert result.keyset is not None, result.error


def test_unreadable_ca_file_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    result = asyncio.run(_fetch_from(JwksServer(tls=ca), ca_file=str(tmp_path / "missing.pem")))
    assert result.keyset is None and "cannot load CA file" in result.error


def test_connection_refused_is_a_failure() -> None:
    async def scenario() -> FetchResult:
        fetcher = Fetcher()
        try:
            return await fetcher.fetch(classify(JwksServer().url()), 2.0)
        finally:
            await fetcher.close()

    result = asyncio.run(scenario())
    assert result.keyset is None and "ClientConnectorError" in result.error


def _file_fetch(uri: str, **kw: Any) -> FetchResult:
    async def scenario() -> FetchResult:
        return await Fetcher(**kw).fetch(classify(uri), 1.0)

    return asyncio.run(scenario())


def test_file_source_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(ISTIO_JWKS)
    result = _file_fetch(path.as_uri())
    assert result.keyset is not None and result.keyset.kids == (ISTIO_KID,)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "FileNotFoundError"),
        ("", "empty body"),
        ("{", "Jwks is an invalid JSON"),
        (" " * 200, "larger than 100 bytes"),
    ],
    ids=["missing", "empty", "garbage", "too-big"],
)
def test_file_source_failures(tmp_path: Path, content: str | None, error: str) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content)
    result = _file_fetch(path.as_uri(), max_bytes=100)
    assert result.keyset is None and error in result.error, result.error


@pytest.mark.parametrize(
    ("uri", "kind", "problem"),
    [
        ("http://example.com/jwks", SourceKind.HTTP, ""),
        ("HTTPS://example.com/jwks", SourceKind.HTTPS, ""),
        ("file:///etc/jwks.json", SourceKind.FILE, ""),
        ("file://localhost/etc/jwks.json", SourceKind.FILE, ""),
        ("file://otherhost/etc/jwks.json", SourceKind.UNSUPPORTED, "local path"),
        ("ftp://example.com/jwks", SourceKind.UNSUPPORTED, "unsupported scheme 'ftp'"),
        ("http:///nohost", SourceKind.UNSUPPORTED, "no host"),
        ("http://[::1/x", SourceKind.UNSUPPORTED, "invalid URI"),
    ],
)
def test_classify(uri: str, kind: SourceKind, problem: str) -> None:
    spec = classify(uri)
    assert spec.kind is kind and problem in spec.problem


def test_unsupported_source_fails_with_its_problem() -> None:
    result = _file_fetch("ftp://example.com/jwks")
    assert result.keyset is None and result.error == "unsupported scheme 'ftp'"


@pytest.mark.parametrize(
    ("header", "max_age"),
    [  # RFC 9111 §5.2.2.1
        ("max-age=120", 120.0),
        ("public, max-age=3600", 3600.0),
        ('max-age="60", must-revalidate', 60.0),
        ("MAX-AGE=5", 5.0),
        ("s-maxage=10", None),
        ("no-cache", None),
        ("", None),
        ("max-age=abc", None),
    ],
)
def test_parse_max_age(header: str, max_age: float | None) -> None:
    assert parse_max_age(header) == max_age


def test_file_uri_paths_are_unquoted(tmp_path: Path) -> None:
    path = tmp_path / "with space.json"
    path.write_text(ISTIO_JWKS)
    assert " " not in path.as_uri() and os.path.exists(classify(path.as_uri()).path)
