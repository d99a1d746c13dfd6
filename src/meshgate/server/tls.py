"""TLS contexts: the listener's (`--tls-cert/--tls-key`) and the client one for an `https://` upstream."""

from __future__ import annotations

import ssl

from meshgate.errors import UsageError

ALPN_HTTP11 = ["http/1.1"]
ALPN_LISTENER = ["h2", "http/1.1"]  # istio/istio:pilot/pkg/networking/util/util.go ALPNHttp


def server_context(cert_file: str, key_file: str, alpn: list[str] = ALPN_HTTP11) -> ssl.SSLContext:
    """A TLS server context (TLS ≥ 1.2); unreadable or mismatched files are a usage error, not a traceback."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(alpn)
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--tls-cert/--tls-key: cannot load {cert_file} / {key_file}: {exc}") from None
    return context


def client_context(ca_file: str | None = None, *, h2: bool = False) -> ssl.SSLContext:
    """Verifies the upstream's certificate against the system CAs, or `ca_file`."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--ca-file: cannot load {ca_file}: {exc}") from None
    context.set_alpn_protocols(["h2"] if h2 else ALPN_HTTP11)
    return context
