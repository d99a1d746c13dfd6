"""The step between "allowed at the gateway hop" and "connect upstream": what the exchange does next.

The listener's context holds one router (`GatewayContext.router`). Given an exchange the gateway hop
allowed, it answers with a step: send the request upstream (which pool, the request-target, the header
edits, the deadline, how to edit the response), or answer locally (redirect, direct response, 404, a
denial at the destination hop). A router that must wait (a key set refetch, a CUSTOM provider at the
destination hop) answers None and later calls `exchange.routed(step)`.

`SingleUpstream` is meshgate fronting one upstream (`--upstream`, or the built-in app): every allowed
request goes there with the engine's edits. Routing by Gateway/VirtualService/ServiceEntry is
gateway/ingress/routed.py's router.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from meshgate.engine.decision import Decision, UpstreamEdits
from meshgate.engine.status import LOCAL_REPLY_CONTENT_TYPE
from meshgate.gateway.deadlines import DeadlineSweep
from meshgate.gateway.heads import SERVICE_TIME
from meshgate.gateway.request_head import RequestHead
from meshgate.gateway.seam import Pool

RawHeaders = list[tuple[bytes, bytes]]
# A TLS server learns the client's server name only in the SNI callback: gateway/ingress/listeners.py notes
# it on the connection's SSLObject under this name, gateway/http1/protocol.py reads it back.
SNI_ATTRIBUTE = "meshgate_sni"


@dataclass(slots=True)
class ToUpstream:
    """Send the request to `pool` (None: the built-in app answers) with these edits.

    `headers` replaces the request's received headers when the route changed them (None: as received);
    `drop` and `set_headers` are then applied as for the engine's UpstreamEdits. `sweep` holds the route
    timeout (None: the listener's `--upstream-timeout`). `edit_response` rewrites the upstream's response
    headers before they are sent downstream. `upstream_host`, `cluster`, `route_name` and `hop` are for the log.
    """

    pool: Pool | None
    path: str
    drop: frozenset[bytes]
    set_headers: Sequence[tuple[str, str]] = ()
    headers: Sequence[tuple[bytes, bytes]] | None = None
    sweep: DeadlineSweep | None = None
    edit_response: Callable[[RawHeaders], RawHeaders] | None = None
    upstream_host: str | None = None
    cluster: str | None = None
    route_name: str | None = None
    hop: Decision | None = None  # the destination hop's decision (its reason goes to the log)


@dataclass(slots=True)
class LocalAnswer:
    """Answer without an upstream, with Envoy's local-reply layout (gateway/local_reply.py)."""

    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = LOCAL_REPLY_CONTENT_TYPE
    close: bool = False
    cluster: str | None = None
    route_name: str | None = None
    hop: Decision | None = None  # the destination hop's decision when it answered
    # the destination hop answered: `headers` are its whole local reply head, which passes the gateway as
    # an upstream response does (gateway/exchange.py Exchange.relay)
    relayed: bool = False


Step = ToUpstream | LocalAnswer


def edited_response(step: Step | None, headers: RawHeaders, service_ms: int) -> tuple[RawHeaders, int | None]:
    """The upstream response's headers with the route's response edits, which Envoy's router applies after
    adding x-envoy-upstream-service-time (observed on Envoy 1.40); then no service time is left to add."""
    if not isinstance(step, ToUpstream) or step.edit_response is None:
        return headers, service_ms
    return step.edit_response([*headers, (SERVICE_TIME, b"%d" % service_ms)]), None


class Peer(Protocol):
    """The downstream connection as a router sees it (gateway/http1/protocol.py GatewayProtocol)."""

    peer_ip: str
    local_ip: str
    sni: str | None  # the TLS server name the client sent, None on plain HTTP


class Routable(Protocol):
    """What a router reads of an exchange and hands its late answer to (gateway/exchange.py Exchange)."""

    req: RequestHead
    start: float

    @property
    def conn(self) -> Peer: ...

    def routed(self, step: Step) -> None: ...


class Router(Protocol):
    """Decides the step for a request the gateway hop allowed (`decision.upstream` is set), and the
    headers of the gateway hop's own denial (a route's response header edits apply to it)."""

    def step(self, exchange: Routable, decision: Decision) -> Step | None: ...
    def denied(self, exchange: Routable, decision: Decision) -> tuple[tuple[str, str], ...]: ...


class SingleUpstream:
    """Today's meshgate: every allowed request to one pool (or the built-in app) with the engine's edits."""

    __slots__ = ("pool", "removals")

    def __init__(self, pool: Pool | None, removals: Callable[[UpstreamEdits], frozenset[bytes]]) -> None:
        self.pool = pool
        self.removals = removals

    def denied(self, exchange: Routable, decision: Decision) -> tuple[tuple[str, str], ...]:
        return decision.headers

    def step(self, exchange: Routable, decision: Decision) -> Step | None:
        edits = decision.upstream
        assert edits is not None
        return ToUpstream(self.pool, edits.path, self.removals(edits), edits.set)
