"""The gateway's own Python per HTTP/2 request, in process, beside bench/inproc.py's HTTP/1.1 mix.

    .venv/bin/python bench/inproc_h2.py [--requests N] [--repeat R] [--connections C] [--streams S]
                                        [--shape ingress|h2load] [--only h2|tuned|bare|h1] [--profile]

The client side is pre-encoded frames: per connection the preface, a SETTINGS and WINDOW_UPDATE as h2load
sends them, then reads of S HEADERS frames (END_STREAM) each, every header block from that connection's
own HPACK encoder, which indexes as nghttp2's deflater does (`:path` and `authorization` never, anything
else incrementally, so a fresh `traceparent` churns the table). The requests are the ingress mix: 1,000
clients' tokens reused at random, a varied path and query, a fresh traceparent each (`--shape ingress`:
the token in `authorization`, as bench/inproc.py), or what h2load sends in bench/gateway.py's h2mix row
(`--shape h2load`: one URI per client with its token in `?access_token=`, cycled in order, h2load's fixed
headers). meshgate's `H2Protocol` reads them over an in-memory transport; each stream's exchange writes its
head into an in-memory HTTP/1.1 upstream connection, which then reads the upstream's response (one read
per upstream connection, as sockets deliver them). CPU time, best of `--repeat`; every answer is checked
to be `:status 200` outside the timed part. Rows:

- `h2`: meshgate over HTTP/2 (µs of CPU per request, connection setup excluded);
- `tuned`: the ceiling — a bare `h2` server connection as meshgate configures it (gateway/h2/limits.py
  server_connection: its decoder, encoder, validation, frame reader) reading the same frames and answering
  every stream with a fixed 200 of the same header fields, no decision, no upstream;
- `bare`: the same with the `h2` library as shipped (its defaults, unpatched: bench/h2_frames.py in a
  process of its own, as meshgate's import patches h2 and hpack);
- `h1`: bench/inproc.py's HTTP/1.1 ingress mix, same token set.

`--profile` prints cProfile's top entries for the `h2` row.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.h2_frames import client_reads, run_bare, statuses  # noqa: E402

from bench import inproc, seed  # noqa: E402
from meshgate.gateway.context import GatewayContext  # noqa: E402
from meshgate.gateway.h2.limits import server_connection  # noqa: E402
from meshgate.gateway.h2.protocol import H2Protocol  # noqa: E402
from meshgate.gateway.http1.upstream import UpstreamConnection, UpstreamPool  # noqa: E402


async def run_meshgate(
    ctx: GatewayContext,
    pool: UpstreamPool,
    reads: list[list[bytes]],
    streams: int,
    prof: cProfile.Profile | None = None,
) -> tuple[float, int]:
    """CPU seconds for every read after the opening, and the number of answers (checked)."""
    conns: list[tuple[H2Protocol, inproc.MemoryTransport]] = []
    for i, conn_reads in enumerate(reads):
        proto = H2Protocol(ctx, ("127.0.0.1", "127.0.0.1", 8080))
        transport = inproc.MemoryTransport(("127.0.0.1", 40000 + i), ("127.0.0.1", 8080))
        proto.connection_made(transport)  # type: ignore[arg-type]
        proto.data_received(conn_reads[0])
        conns.append((proto, transport))
    ups = []
    for i in range(streams):
        up = UpstreamConnection(pool)
        up.connection_made(inproc.MemoryTransport(("127.0.0.1", 8081), ("127.0.0.1", 50000 + i)))  # type: ignore[arg-type]
        ups.append(up)
    for _, transport in conns:
        transport.written.clear()
    rounds = max(len(r) for r in reads)
    if prof is not None:
        prof.enable()
    start = time.process_time()
    for step in range(1, rounds):
        for (proto, _), conn_reads in zip(conns, reads, strict=True):
            if step >= len(conn_reads):
                continue
            pool.idle[:] = ups
            proto.data_received(conn_reads[step])
            for up in ups:
                if up.sink is not None:
                    up.data_received(inproc.RESPONSE)
                    up.transport.written.clear()  # type: ignore[union-attr]
    spent = time.process_time() - start
    if prof is not None:
        prof.disable()
    done = 0
    for proto, transport in conns:
        counts = statuses(b"".join(transport.written))
        if set(counts) != {b"200"} or proto.streams:
            raise SystemExit(f"h2: answers {counts}, {len(proto.streams)} streams left open")
        done += counts[b"200"]
    return spent, done


def best_of(repeat: int, once: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    results = [once() for _ in range(repeat)]
    spent = min(r[0] for r in results)
    return spent, results[0][1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--streams", type=int, default=10, help="requests per read (h2load -m)")
    parser.add_argument("--shape", default="ingress", choices=["ingress", "h2load"])
    parser.add_argument("--only", choices=["h2", "tuned", "bare", "h1"])
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    cache = Path.home() / ".cache" / "meshgate-bench"
    tokens = seed.fresh_token_file(args.clients, cache).read_text().split()
    reads = client_reads(args.shape, tokens, args.requests, args.connections, args.streams)
    rows = [args.only] if args.only else ["h2", "tuned", "bare", "h1"]
    with tempfile.TemporaryDirectory() as tmp:
        policies = Path(tmp) / "seed.yaml"
        policies.write_text(seed.policies_yaml(seed.jwks_text()))
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        def meshgate_once() -> tuple[float, int]:
            ctx, pool = loop.run_until_complete(inproc.build(policies))
            warm = inproc.requests_for("fresh", tokens, "", len(tokens))  # every client seen once
            loop.run_until_complete(inproc.run_mix(ctx, pool, warm))
            return loop.run_until_complete(run_meshgate(ctx, pool, reads, args.streams))

        def h1_once() -> tuple[float, int]:
            ctx, pool = loop.run_until_complete(inproc.build(policies))
            loop.run_until_complete(
                inproc.run_mix(ctx, pool, inproc.requests_for("fresh", tokens, "", len(tokens)))
            )
            reqs = inproc.requests_for("mix", tokens, "", args.requests)
            return loop.run_until_complete(inproc.run_mix(ctx, pool, reqs)), len(reqs)

        def bare_once() -> tuple[float, int]:  # in a process of its own: h2 and hpack unpatched
            keys = ("requests", "clients", "connections", "streams", "shape")
            argv = [sys.executable, str(ROOT / "bench" / "h2_frames.py"), "--repeat", "1",
                    *(f"--{key}={getattr(args, key)}" for key in keys)]  # fmt: skip
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            return float(out.split()[-1]) * args.requests / 1e6, args.requests

        runs = {"h2": meshgate_once, "tuned": lambda: run_bare(reads, server_connection),
                "bare": bare_once, "h1": h1_once}  # fmt: skip
        label = {"h2": "h2 meshgate", "tuned": "h2 bare, tuned", "bare": "h2 bare, as shipped",
                 "h1": "h1 meshgate"}  # fmt: skip
        for row in rows:
            spent, done = best_of(args.repeat, runs[row])
            print(f"{label[row]:<20} {spent / done * 1e6:7.2f} µs of CPU per request "
                  f"({args.shape}, best of {args.repeat}, {done} requests)", flush=True)  # fmt: skip
        if args.profile:
            ctx, pool = loop.run_until_complete(inproc.build(policies))
            loop.run_until_complete(
                inproc.run_mix(ctx, pool, inproc.requests_for("fresh", tokens, "", len(tokens)))
            )
            prof = cProfile.Profile()
            loop.run_until_complete(run_meshgate(ctx, pool, reads, args.streams, prof))
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
