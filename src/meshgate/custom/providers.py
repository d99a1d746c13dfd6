"""The CUSTOM providers of the mesh config, with the connections that reach them, and asking one.

`AuthorizationPolicy` `action: CUSTOM` names a provider declared in meshConfig `extensionProviders`
(istio/api mesh/v1alpha1/config.proto: `envoyExtAuthzHttp` / `envoyExtAuthzGrpc`). A network error,
timeout or 5xx answer fails closed with `statusOnError` (default 403, empty body) unless `failOpen`
(envoyproxy/envoy ext_authz `failure_mode_allow`, `status_on_error`): custom/verdict.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from meshgate.custom.http_client import http_check
from meshgate.custom.mesh_config import ExtAuthzProvider, load_mesh_config
from meshgate.custom.verdict import ProviderVerdict
from meshgate.engine.attributes import RequestAttributes

if TYPE_CHECKING:
    import aiohttp


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
            from meshgate.custom.grpc_client import grpc_check  # needs the extauthz extra: only then

            return await grpc_check(provider, attrs, pool.channel(provider))
        return await http_check(provider, attrs, pool.session())
    finally:
        if owned:
            await pool.close()
