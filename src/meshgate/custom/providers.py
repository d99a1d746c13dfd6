"""Istio's CUSTOM action, client side: the mesh config's ext_authz providers, and asking them.

`AuthorizationPolicy` `action: CUSTOM` names a provider declared in meshConfig `extensionProviders`
(istio/api mesh/v1alpha1/config.proto: `envoyExtAuthzHttp` / `envoyExtAuthzGrpc`). In Istio the
ext_authz filter runs before jwt_authn and RBAC (istio-semantics.md §3.14), so a provider's denial
wins over the engine's answer; when it allows, the engine's decision stands plus the provider's
upstream headers. A network error, timeout or 5xx answer fails closed with `statusOnError` (default
403, empty body) unless `failOpen` (envoyproxy/envoy ext_authz `failure_mode_allow`, `status_on_error`;
raw_http_client_impl.cc treats a 5xx as an error).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshgate.custom.mesh_config import ExtAuthzProvider, header_matches, load_mesh_config
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.decision import AuthnTrace, Decision, Trace, UpstreamEdits
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE, RBAC_ACCESS_DENIED

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "CustomProviders",
    "ExtAuthzProvider",
    "ProviderVerdict",
    "apply_custom",
    "check",
    "load_mesh_config",
]

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


@dataclass(frozen=True, slots=True)
class ProviderVerdict:
    """A provider's answer, with failOpen / statusOnError already applied."""

    allowed: bool
    status: int = 200
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # to the client, on denial
    upstream_set: tuple[tuple[str, str], ...] = ()
    upstream_remove: tuple[str, ...] = ()
    content_type: str = LOCAL_REPLY_CONTENT_TYPE
    error: str | None = None  # why the provider could not answer (then fail open or closed)


def failed(provider: ExtAuthzProvider, error: str) -> ProviderVerdict:
    if provider.fail_open:
        return ProviderVerdict(True, error=error)
    return ProviderVerdict(False, provider.status_on_error, "", error=error, content_type="")


class CustomProviders(Mapping[str, ExtAuthzProvider]):
    """The providers by name, plus the pooled HTTP session and gRPC channels used to reach them."""

    def __init__(self, providers: Mapping[str, ExtAuthzProvider]) -> None:
        self._providers = dict(providers)
        self._session: aiohttp.ClientSession | None = None
        self._channels: dict[str, Any] = {}

    @classmethod
    def from_file(cls, path: str | None) -> CustomProviders:
        """Load `--mesh-config` (raises ConfigError with `file:line` problems); None → no providers."""
        return cls(load_mesh_config(path) if path else {})

    @property
    def names(self) -> frozenset[str]:
        """For `EngineOptions(custom_providers=...)`: CUSTOM policies naming others become deny rules."""
        return frozenset(self._providers)

    def __getitem__(self, name: str) -> ExtAuthzProvider:
        return self._providers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    def session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    def channel(self, provider: ExtAuthzProvider) -> Any:
        import grpc

        target = f"{provider.host}:{provider.port}"
        if target not in self._channels:
            self._channels[target] = grpc.aio.insecure_channel(target)
        return self._channels[target]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


async def check(
    provider: ExtAuthzProvider, attrs: RequestAttributes, clients: CustomProviders | None = None
) -> ProviderVerdict:
    """Ask `provider` about `attrs` (the request as Envoy's ext_authz filter would see it)."""
    owned = clients is None
    pool = clients if clients is not None else CustomProviders({provider.name: provider})
    try:
        if provider.kind == "grpc":
            from meshgate.extauthz.grpc_server import grpc_check

            return await grpc_check(provider, attrs, pool.channel(provider))
        return await _http_check(provider, attrs, pool.session())
    finally:
        if owned:
            await pool.close()


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


async def _http_check(
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


async def apply_custom(
    decision: Decision, attrs: RequestAttributes, providers: Mapping[str, ExtAuthzProvider]
) -> Decision:
    """The final decision once the CUSTOM provider named by `decision.custom_provider` has answered.

    Gateway hook (when `decision.custom_provider` is set):
    `decision = await apply_custom(decision, attrs, providers)`.
    """
    name = decision.custom_provider
    if name is None:
        return decision
    authz = dataclasses.replace(decision.trace.authz, custom_provider=name)
    provider = providers.get(name)
    if provider is None:  # the engine turns such policies into deny rules; never let one through
        trace = Trace(
            AuthnTrace("not evaluated"),
            dataclasses.replace(
                authz,
                outcome="denied",
                reason=f"CUSTOM provider {name!r} is not in the mesh config",
                action="CUSTOM",
            ),
        )
        return Decision(False, 403, RBAC_ACCESS_DENIED, (), None, trace)
    clients = providers if isinstance(providers, CustomProviders) else None
    verdict = await check(provider, _as_seen_by_ext_authz(decision, attrs), clients)
    if not verdict.allowed:
        reason = verdict.error or f"denied by CUSTOM provider {name}"
        trace = Trace(
            AuthnTrace("not evaluated"),
            dataclasses.replace(authz, outcome="denied", reason=reason, action="CUSTOM"),
            decision.trace.path,
        )
        return Decision(
            False,
            verdict.status,
            verdict.body,
            verdict.headers,
            None,
            trace,
            content_type=verdict.content_type,
        )
    trace = dataclasses.replace(decision.trace, authz=authz)
    if not decision.allowed or decision.upstream is None:
        return dataclasses.replace(decision, trace=trace, custom_provider=None)
    return dataclasses.replace(
        decision, trace=trace, custom_provider=None, upstream=merge_upstream(decision.upstream, verdict)
    )


def merge_upstream(engine: UpstreamEdits, verdict: ProviderVerdict) -> UpstreamEdits:
    """ext_authz edits the request first, jwt_authn after: the engine's edits win on a conflict."""
    engine_names = set(engine.remove) | {n for n, _ in engine.set}
    provider_set = tuple((n, v) for n, v in verdict.upstream_set if n not in engine_names)
    provider_set_names = {n for n, _ in provider_set}
    remove = (
        *engine.remove,
        *(n for n in verdict.upstream_remove if n not in provider_set_names | engine_names),
    )
    return UpstreamEdits(path=engine.path, remove=remove, set=(*provider_set, *engine.set))


def _as_seen_by_ext_authz(decision: Decision, attrs: RequestAttributes) -> RequestAttributes:
    """Envoy's ext_authz filter runs after path normalization: it sees the normalized path."""
    path = decision.trace.path
    return dataclasses.replace(attrs, path=path) if path.startswith("/") else attrs
