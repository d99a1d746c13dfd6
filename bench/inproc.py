"""The gateway's own Python per request, in process: real protocols over in-memory transports.

    .venv/bin/python bench/inproc.py [--requests N] [--repeat R] [--mix mix|fresh|same|all] [--profile]
                                     [--routed]

No sockets, no kernel, no load generator: a `GatewayProtocol` reads each request's bytes, decides,
writes the upstream head into an in-memory upstream connection, which then reads the upstream's
response bytes and writes the downstream head. What is left is exactly meshgate's per-request Python
(parse both ways, decide, render both heads, bookkeeping), so A/B comparisons hold on a noisy machine
(CPU time, best of `--repeat`). The requests are bench/gateway.py's mixes: `mix` (K clients' tokens
reused at random, varied paths, a fresh traceparent), `fresh` (each token new), `same` (one request
repeated). `--profile` prints cProfile's top entries for the chosen mix. `--routed` also measures the same
requests through meshgate as the ingress (bench/routes.py: a 10-route VirtualService, the mix's route last)
and prints the ratio; its rounds alternate with the plain ones, so a busy spell of the machine hits both.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.routes import routes_yaml  # noqa: E402

from bench import seed  # noqa: E402
from meshgate.config.model import Workload  # noqa: E402
from meshgate.gateway.context import GatewayContext  # noqa: E402
from meshgate.gateway.http1.protocol import GatewayProtocol  # noqa: E402
from meshgate.gateway.http1.upstream import UpstreamConnection, UpstreamPool, UpstreamTarget  # noqa: E402
from meshgate.gateway.ingress.pools import EndpointPools  # noqa: E402
from meshgate.gateway.ingress.routed import RoutedRouter  # noqa: E402
from meshgate.gateway.serve import ServeOptions, load_config  # noqa: E402
from meshgate.keystore.store import KeyStore  # noqa: E402
from meshgate.routing.action import Upstream  # noqa: E402
from meshgate.server.access_log import AccessLog  # noqa: E402
from meshgate.server.metrics import Metrics  # noqa: E402
from meshgate.server.state import ServingState  # noqa: E402

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 07:04:51 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nHello World!"
)


class MemoryTransport:
    """Just enough of an asyncio transport: it keeps what is written."""

    def __init__(self, peer: tuple[str, int], local: tuple[str, int]) -> None:
        self.extra = {"peername": peer, "sockname": local}
        self.written: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def writelines(self, parts: list[bytes]) -> None:
        self.written.append(b"".join(parts))

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool:
        return False

    def close(self) -> None: ...
    def abort(self) -> None: ...


def requests_for(mix: str, tokens: list[str], demo: str, count: int) -> list[bytes]:
    rng = random.Random(7)
    out = []
    for i in range(count):
        if mix == "same":
            out.append(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer %s\r\n\r\n" % demo.encode()
            )
            continue
        token = tokens[i % len(tokens)] if mix == "fresh" else tokens[rng.randrange(len(tokens))]
        client = tokens.index(token) if mix == "mix" else i
        trace = f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"
        out.append(
            (
                f"GET /api/v1/items/{rng.randint(1, 100000)}?page={rng.randint(1, 20)} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:8080\r\nAuthorization: Bearer {token}\r\ntraceparent: {trace}\r\n"
                f"Accept: application/json\r\nUser-Agent: client-{client}/1.{client % 7} (bench)\r\n\r\n"
            ).encode()
        )
    return out


async def build(policies: Path, routing: Path | None = None) -> tuple[GatewayContext, UpstreamPool]:
    paths = (str(policies),) if routing is None else (str(policies), str(routing))
    opts = ServeOptions(config_paths=paths, namespace=seed.NAMESPACE, labels=dict(seed.LABELS))
    built = load_config(opts)
    resources, engine = built.resources, built.engine
    keystore = KeyStore(built.jwks_sources())
    state = ServingState(engine, keystore, Metrics(), AccessLog(sys.stdout, "envoy"), workload=opts.workload,
                         resources=resources)  # fmt: skip
    if routing is None:
        pool = UpstreamPool(UpstreamTarget("127.0.0.1", 8081))
        ctx = GatewayContext(state, pool)
    else:  # as gateway/ingress/listeners.py builds a listener's context
        state.ingress, state.ingress_enabled = built.ingress, True
        ctx = GatewayContext(state, None)
        pools = EndpointPools()
        ctx.router, ctx.routed = RoutedRouter(ctx, pools, 8080), True
        pool = pools.pool(Upstream("127.0.0.1", 8081, Workload()))
    ctx.access_log_enabled = False
    return ctx, pool


async def run_mix(ctx: GatewayContext, pool: UpstreamPool, reqs: list[bytes], connections: int = 50) -> float:
    """CPU seconds to push every request through and its response back, round robin over connections."""
    conns = []
    for i in range(connections):
        proto = GatewayProtocol(ctx)
        proto.connection_made(MemoryTransport(("127.0.0.1", 40000 + i), ("127.0.0.1", 8080)))  # type: ignore[arg-type]
        up = UpstreamConnection(pool)
        up.connection_made(MemoryTransport(("127.0.0.1", 8081), ("127.0.0.1", 50000 + i)))  # type: ignore[arg-type]
        conns.append((proto, up))
    start = time.process_time()
    for i, data in enumerate(reqs):
        proto, up = conns[i % connections]
        pool.idle[:] = [up]
        proto.data_received(data)
        up.data_received(RESPONSE)
        if len(proto.transport.written) > 64:  # type: ignore[union-attr]
            proto.transport.written.clear()  # type: ignore[union-attr]
            up.transport.written.clear()  # type: ignore[union-attr]
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--mix", default="all", choices=["mix", "fresh", "same", "all"])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--routed", action="store_true", help="also through the 10-route ingress, and the ratio"
    )
    args = parser.parse_args(argv)
    cache = Path.home() / ".cache" / "meshgate-bench"
    mix_tokens = seed.fresh_token_file(args.clients, cache).read_text().split()
    fresh_tokens = seed.fresh_token_file(100_000, cache).read_text().split()
    mixes = ["mix", "fresh", "same"] if args.mix == "all" else [args.mix]
    with tempfile.TemporaryDirectory() as tmp:
        policies = Path(tmp) / "seed.yaml"
        policies.write_text(seed.policies_yaml(seed.jwks_text()))
        routing = Path(tmp) / "routes.yaml"
        routing.write_text(routes_yaml(8080, 8081))
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        variants = (False, True) if args.routed else (False,)
        for mix in mixes:
            best = dict.fromkeys(variants, float("inf"))
            for round_ in range(args.repeat):  # plain and routed alternate: both see the machine's same moods
                for routed in variants:
                    ctx, pool = loop.run_until_complete(build(policies, routing if routed else None))
                    tokens = fresh_tokens[round_ * args.requests :] if mix == "fresh" else mix_tokens
                    reqs = requests_for(mix, tokens, seed.demo_token(), args.requests)
                    if mix == "mix":  # every client has been seen once: the steady state of an ingress
                        loop.run_until_complete(
                            run_mix(ctx, pool, requests_for("fresh", mix_tokens, "", len(mix_tokens)))
                        )
                    if args.profile and round_ == args.repeat - 1:
                        prof = cProfile.Profile()
                        prof.enable()
                        loop.run_until_complete(run_mix(ctx, pool, reqs))
                        prof.disable()
                        print(f"{mix}{'+routes' if routed else ''}:")
                        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
                    else:
                        best[routed] = min(best[routed], loop.run_until_complete(run_mix(ctx, pool, reqs)))
            for routed in variants:
                label = f"{mix}+routes" if routed else mix
                us = best[routed] / args.requests * 1e6
                line = f"{label:<12} {us:7.2f} µs of CPU per request (best of {args.repeat})"
                if routed:
                    line += f"  routed/plain = {best[True] / best[False]:.3f}"
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
