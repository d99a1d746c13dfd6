"""Asking an `envoyExtAuthzHttp` provider, as Envoy's HTTP ext_authz client asks it.

The check is the original request's method and path (after the provider's `pathPrefix`) with no body and the
headers Istio lets through (config.proto `includeRequestHeadersInCheck`, `includeAdditionalHeadersInCheck`).
A 200 allows, a 5xx is an error (failOpen / statusOnError apply), anything else denies with the provider's
answer (envoyproxy/envoy:source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc,
raw_http_client_impl.cc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshgate.custom.mesh_config import ExtAuthzProvider, header_matches
from meshgate.custom.verdict import ProviderVerdict, failed
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE

if TYPE_CHECKING:
    import aiohttp

# envoyproxy/envoy source/extensions/filters/common/ext_authz/ext_authz.h: the HTTP authorization
# response header naming request headers to remove before proxying.
HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove"
# Sent to the provider whatever `includeRequestHeadersInCheck` says (Istio's config.proto comment).
ALWAYS_SENT = frozenset(("host", "authorization"))
# Answer headers a local reply sets itself; never copied from the provider's answer.
NOT_COPIED = frozenset(
    (
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "date",
        "server",
        "host",
        ":authority",
    )
)
# Envoy always lets these through to the client when headersToDownstreamOnDeny is set (config.proto).
ALWAYS_TO_CLIENT = ("path", "status", "www-authenticate", "location")
MAX_BODY_BYTES = 1 << 16


def check_request_headers(provider: ExtAuthzProvider, attrs: RequestAttributes) -> list[tuple[str, str]]:
    """What Envoy's HTTP ext_authz client sends: Host, Authorization, the allowed headers, the fixed ones."""
    out = [("host", attrs.authority)]
    for name, values in attrs.headers.items():
        if name == "host" or name.startswith(":") or name in NOT_COPIED:
            continue
        if name in ALWAYS_SENT or header_matches(name, provider.include_request_headers_in_check):
            out.append((name, ",".join(values)))
    fixed = {name.lower() for name, _ in provider.include_additional_headers_in_check}
    out = [(n, v) for n, v in out if n not in fixed]
    out.extend((name.lower(), value) for name, value in provider.include_additional_headers_in_check)
    return out


async def http_check(
    provider: ExtAuthzProvider, attrs: RequestAttributes, session: aiohttp.ClientSession
) -> ProviderVerdict:
    import aiohttp
    from yarl import URL

    url = URL(f"http://{provider.host}:{provider.port}{provider.path_prefix}{attrs.path}", encoded=True)
    headers = [*check_request_headers(provider, attrs), ("content-length", "0")]
    try:
        async with session.request(
            attrs.method,
            url,
            headers=headers,
            allow_redirects=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=provider.timeout_s),
        ) as resp:
            body = await resp.content.read(MAX_BODY_BYTES)
            answer = [(k.lower(), v) for k, v in resp.headers.items()]
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        return failed(provider, f"{type(exc).__name__}: {exc}".rstrip(": "))
    return http_verdict(provider, status, answer, body)


def http_verdict(
    provider: ExtAuthzProvider, status: int, answer: list[tuple[str, str]], body: bytes
) -> ProviderVerdict:
    """An HTTP provider's answer → verdict (200 allows; 5xx is an error; anything else denies)."""
    if status >= 500:
        return failed(provider, f"provider answered {status}")
    if status == 200:
        upstream = tuple(
            (n, v)
            for n, v in answer
            if n not in NOT_COPIED and header_matches(n, provider.headers_to_upstream_on_allow)
        )
        remove = tuple(
            name.strip().lower()
            for n, v in answer
            if n == HEADERS_TO_REMOVE
            for name in v.split(",")
            if name.strip()
        )
        return ProviderVerdict(True, upstream_set=upstream, upstream_remove=remove)
    allowed_names = provider.headers_to_downstream_on_deny
    to_client = tuple(
        (n, v)
        for n, v in answer
        if n not in NOT_COPIED
        and (not allowed_names or n in ALWAYS_TO_CLIENT or header_matches(n, allowed_names))
    )
    content_type = next((v for n, v in answer if n == "content-type"), LOCAL_REPLY_CONTENT_TYPE)
    return ProviderVerdict(
        False, status, body.decode("utf-8", "replace"), to_client, content_type=content_type
    )
