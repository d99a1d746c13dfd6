"""Upstream pools of meshgate as the ingress: one keep-alive pool per endpoint, round robin per cluster.

Envoy keeps a connection pool per upstream host; meshgate picks a cluster's endpoints in turn (Envoy's
ROUND_ROBIN load balancer; without a DestinationRule istiod may program another policy, whose choice a
client cannot tell apart on an idle gateway). Pools outlive a reload (a kept-alive connection to an
endpoint still configured stays useful); the counters are reset when a new configuration is in force.
A DNS endpoint is its host name: resolved at connect time.
"""

from __future__ import annotations

from meshgate.gateway.h2.upstream import H2Pool
from meshgate.gateway.http1.upstream import UpstreamPool, UpstreamTarget
from meshgate.gateway.seam import Pool
from meshgate.routing.action import Cluster, Upstream

MAX_POOLS = 1024  # endpoints kept; past it the oldest pool is closed (a config names a bounded few)


class EndpointPools:
    """Shared by every listener of one process."""

    def __init__(self) -> None:
        self.pools: dict[tuple[str, int, bool], Pool] = {}
        self.turns: dict[str, int] = {}

    def pick(self, cluster: Cluster) -> Upstream | None:
        """The cluster's next endpoint in turn; None when it has none (Envoy: `no healthy upstream`)."""
        endpoints = cluster.endpoints
        if not endpoints:
            return None
        if len(endpoints) == 1:
            return endpoints[0]
        turn = self.turns.get(cluster.name, 0)
        self.turns[cluster.name] = turn + 1
        return endpoints[turn % len(endpoints)]

    def pool(self, upstream: Upstream) -> Pool:
        """The endpoint's pool: HTTP/2 (h2c) when its ServiceEntry port says HTTP2/GRPC, else HTTP/1.1."""
        key = (upstream.address, upstream.port, upstream.h2)
        pool = self.pools.get(key)
        if pool is None:
            if len(self.pools) >= MAX_POOLS:
                self.pools.pop(next(iter(self.pools))).close()
            kind = H2Pool if upstream.h2 else UpstreamPool
            pool = self.pools[key] = kind(UpstreamTarget(upstream.address, upstream.port))
        return pool

    def reset_turns(self) -> None:
        self.turns.clear()

    def close(self) -> None:
        pools, self.pools = self.pools, {}
        for pool in pools.values():
            pool.close()
