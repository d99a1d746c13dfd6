"""meshgate as the ingress: one listener per port the Gateways selecting it ask for, kept in step on reload.

Each routing-table listener (routing/table.py Listener) is an asyncio server on `bind:port` (the server's
`bind`, else `--bind`) with its own GatewayContext and RoutedRouter (gateway/ingress/routed.py). HTTPS listeners
select the filter chain's certificate by SNI as Envoy's filter chain match does (routing/table.py
Listener.chain): the SSL context's `sni_callback` switches to the chain's context, and a name no chain
serves fails the handshake (Envoy finds no filter chain and closes the connection). After a reload only
the listeners that changed (a port added or removed, other certificates or server names) are reopened;
routes are read per request from the configuration in force, so a route change reopens nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.gateway.context import GatewayContext
from meshgate.gateway.h2.auto import AutoProtocol
from meshgate.gateway.ingress.pools import EndpointPools
from meshgate.gateway.ingress.routed import RoutedRouter
from meshgate.gateway.router import SNI_ATTRIBUTE
from meshgate.routing.table import FilterChain, Listener, RoutingTable, TlsMaterial
from meshgate.server.state import ServingState
from meshgate.server.tls import ALPN_LISTENER

log = logging.getLogger("meshgate.serve")
LISTEN_BACKLOG = 2048
ListenerKey = tuple[int, str, tuple[tuple[tuple[str, ...], str], ...]]


@dataclass(slots=True)
class Open:
    """A listening server and the context its connections share."""

    server: asyncio.AbstractServer
    ctx: GatewayContext
    router: RoutedRouter
    host: str
    port: int
    tls: bool


def chain_context(material: TlsMaterial) -> ssl.SSLContext:
    """A TLS server context for one chain; Python loads PEM only from files, so a private temp dir holds
    them for the load and is removed at once."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(ALPN_LISTENER)
    with tempfile.TemporaryDirectory(prefix="meshgate-tls-") as tmp:
        cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
        for path, data in ((cert, material.cert_pem), (key, material.key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        context.load_cert_chain(cert, key)
    return context


def listener_context(listener: Listener) -> ssl.SSLContext:
    """The listener's context: the first chain's certificate, switched by SNI to the chain that serves it."""
    contexts: dict[int, ssl.SSLContext] = {}
    for index, chain in enumerate(listener.chains):
        assert chain.tls is not None
        contexts[index] = chain_context(chain.tls)
    chains = {id(chain): index for index, chain in enumerate(listener.chains)}

    def select(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> int | None:
        chain = listener.chain(name)
        if chain is None:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        sock.context = contexts[chains[id(chain)]]
        setattr(sock, SNI_ATTRIBUTE, name)
        return None

    base = contexts[0]
    base.sni_callback = select
    return base


def listener_key(listener: Listener, default_bind: str) -> ListenerKey:
    """What reopening depends on: address and, per chain, its server names and certificate digest."""
    return (listener.port, listener.bind or default_bind, tuple(_chain_key(c) for c in listener.chains))


def _chain_key(chain: FilterChain) -> tuple[tuple[str, ...], str]:
    if chain.tls is None:
        return chain.server_names, ""
    return chain.server_names, hashlib.sha256(chain.tls.cert_pem + b"\0" + chain.tls.key_pem).hexdigest()


class IngressListeners:
    """The process's ingress listeners; `sync` opens and closes them to match the table in force."""

    def __init__(
        self,
        state: ServingState,
        *,
        bind: str,
        upstream_timeout: float,
        access_log: bool,
        custom_providers: Mapping[str, ExtAuthzProvider],
        reuse_port: bool = False,
        random: Callable[[], int] | None = None,
    ) -> None:
        self.state = state
        self.bind = bind
        self.upstream_timeout = upstream_timeout
        self.access_log = access_log
        self.custom_providers = custom_providers
        self.reuse_port = reuse_port
        self.random = random
        self.pools = EndpointPools()
        self.open: dict[ListenerKey, Open] = {}
        self.retired: list[Open] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    async def sync(self) -> None:
        """Open the table's listeners not open yet, close the ones it no longer has (raises OSError at start)."""
        async with self._lock:
            ingress = self.state.ingress
            table: RoutingTable | None = ingress.table if ingress is not None else None
            wanted = {listener_key(lst, self.bind): lst for lst in (table.listeners if table else ())}
            for key in [k for k in self.open if k not in wanted]:
                self._retire(self.open.pop(key))
            self.pools.reset_turns()
            for key, listener in wanted.items():
                if key not in self.open:
                    self.open[key] = await self._start(listener, key[1])

    def resync(self) -> None:
        """After a reload (ServingState.on_swap): sync in a task; a port that cannot be bound is logged."""
        task = asyncio.get_running_loop().create_task(self._resync())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _resync(self) -> None:
        try:
            await self.sync()
        except (OSError, ssl.SSLError) as exc:
            log.error("ingress listener could not be opened: %s", exc)

    async def _start(self, listener: Listener, host: str) -> Open:
        tls = listener_context(listener) if listener.tls else None
        ctx = GatewayContext(
            self.state, None, scheme="https" if tls else "http", upstream_timeout=self.upstream_timeout,
            access_log=self.access_log, custom_providers=self.custom_providers,
        )  # fmt: skip
        router = RoutedRouter(
            ctx, self.pools, listener.port, **({"random": self.random} if self.random else {})
        )
        ctx.router, ctx.routed = router, True
        server = await asyncio.get_running_loop().create_server(
            lambda: AutoProtocol(ctx), host, listener.port, ssl=tls,
            reuse_port=self.reuse_port or None, backlog=LISTEN_BACKLOG,
        )  # fmt: skip
        port = int(server.sockets[0].getsockname()[1])
        return Open(server, ctx, router, host, port, tls is not None)

    def _retire(self, item: Open) -> None:
        item.server.close()
        item.ctx.drain()
        self.retired.append(item)

    def lines(self) -> list[str]:
        return [
            f"meshgate serve: listening on {'https' if o.tls else 'http'}://{o.host}:{o.port} (ingress)"
            for o in self.open.values()
        ]

    async def stop(self, grace_s: float) -> None:
        items = [*self.open.values(), *self.retired]
        self.open.clear()
        for item in items:
            item.server.close()
            item.ctx.drain()
        await asyncio.gather(*(item.ctx.wait_closed(grace_s) for item in items))
        for item in items:
            item.ctx.abort_all()
            item.router.close()
        self.pools.close()
