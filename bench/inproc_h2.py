"""The gateway's own Python per HTTP/2 request, in process, beside bench/inproc.py's HTTP/1.1 mix.

    .venv/bin/python bench/inproc_h2.py [--requests N] [--repeat R] [--connections C] [--streams S]
                                        [--shape ingress|h2load] [--only h2|bare|h1] [--profile]

The client side is pre-encoded frames: per connection the preface, a SETTINGS and WINDOW_UPDATE as h2load
sends them, then reads of S HEADERS frames (END_STREAM) each, every header block from that connection's
own HPACK encoder, which indexes as nghttp2's deflater does (`:path` and `authorization` never, anything
else incrementally, so a fresh `traceparent` churns the table). The requests are the ingress mix: 1,000
clients' tokens reused at random, a varied path and query, a fresh traceparent each (`--shape ingress`:
the token in `authorization`, as bench/inproc.py; `--shape h2load`: in `?access_token=`, the h2mix row's
shape). meshgate's `H2Protocol` reads them over an in-memory transport; each stream's exchange writes its
head into an in-memory HTTP/1.1 upstream connection, which then reads the upstream's response (one read
per upstream connection, as sockets deliver them). CPU time, best of `--repeat`; every answer is checked
to be `:status 200` outside the timed part. Rows:

- `h2`: meshgate over HTTP/2 (µs of CPU per request, connection setup excluded);
- `bare`: the ceiling — a bare `h2` server connection (the library's defaults) reading the same frames and
  answering every stream with a fixed 200 of the same header fields, no decision, no upstream;
- `h1`: bench/inproc.py's HTTP/1.1 ingress mix, same token set.

`--profile` prints cProfile's top entries for the `h2` row.
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from h2.config import H2Configuration  # noqa: E402
from h2.connection import H2Connection  # noqa: E402
from h2.events import RequestReceived  # noqa: E402
from hpack import Decoder, Encoder  # noqa: E402
from hpack.struct import HeaderTuple, NeverIndexedHeaderTuple  # noqa: E402
from hyperframe.frame import (  # noqa: E402
    Frame,
    HeadersFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from bench import inproc, seed  # noqa: E402
from meshgate.gateway.context import GatewayContext  # noqa: E402
from meshgate.gateway.h2.protocol import H2Protocol  # noqa: E402
from meshgate.gateway.upstream import UpstreamConnection, UpstreamPool  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
AUTHORITY = b"127.0.0.1:8080"
NOT_INDEXED = {b":path", b"authorization"}  # nghttp2 deflater: never / without indexing
# What meshgate answers for the mix (the upstream's fields, then Envoy's): the bare row sends the same.
BARE_RESPONSE = [
    (b":status", b"200"),
    (b"server", b"istio-envoy"),
    (b"date", b"Mon, 07 Dec 2026 07:04:51 GMT"),
    (b"content-type", b"text/plain"),
    (b"content-length", b"12"),
    (b"x-envoy-upstream-service-time", b"0"),
]
BODY = b"Hello World!"


def request_fields(shape: str, rng: random.Random, tokens: list[str]) -> list[tuple[bytes, bytes]]:
    pick = rng.randrange(len(tokens))
    token = tokens[pick]
    path = f"/api/v1/items/{rng.randint(1, 100000)}?page={rng.randint(1, 20)}"
    trace = f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"
    if shape == "h2load":
        return [(b":method", b"GET"), (b":path", f"{path}&access_token={token}".encode()),
                (b":scheme", b"http"), (b":authority", AUTHORITY), (b"accept", b"*/*"),
                (b"accept-encoding", b"gzip, deflate"), (b"user-agent", b"h2load nghttp2/1.52.0"),
                (b"traceparent", trace.encode())]  # fmt: skip
    return [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", AUTHORITY),
            (b":path", path.encode()), (b"authorization", f"Bearer {token}".encode()),
            (b"traceparent", trace.encode()), (b"accept", b"application/json"),
            (b"user-agent", f"client-{pick}/1.{pick % 7} (bench)".encode())]  # fmt: skip


def client_reads(
    shape: str, tokens: list[str], count: int, connections: int, streams: int
) -> list[list[bytes]]:
    """Per connection: its reads in order — the opening (preface, SETTINGS, WINDOW_UPDATE, the ack of the
    server's SETTINGS), then `streams` requests a read."""
    rng = random.Random(14)
    out: list[list[bytes]] = []
    per_conn = count // connections
    for _ in range(connections):
        encoder = Encoder()
        opening = PREFACE + SettingsFrame(0, settings={0x3: 100, 0x4: 2**30 - 1, 0x2: 0}).serialize()
        opening += WindowUpdateFrame(0, window_increment=2**30 - 1 - 65535).serialize()
        opening += SettingsFrame(0, flags=["ACK"]).serialize()
        reads, batch, sid = [opening], [], 1
        for _ in range(per_conn):
            fields = [
                NeverIndexedHeaderTuple(k, v) if k in NOT_INDEXED else HeaderTuple(k, v)
                for k, v in request_fields(shape, rng, tokens)
            ]
            block = encoder.encode(fields)
            batch.append(HeadersFrame(sid, data=block, flags=["END_HEADERS", "END_STREAM"]).serialize())
            sid += 2
            if len(batch) == streams:
                reads.append(b"".join(batch))
                batch = []
        if batch:
            reads.append(b"".join(batch))
        out.append(reads)
    return out


def statuses(written: bytes) -> dict[bytes, int]:
    """`:status` of every response HEADERS in what a server wrote (its SETTINGS first)."""
    decoder, counts, view = Decoder(), dict[bytes, int](), memoryview(written)
    while len(view) >= 9:
        frame, length = Frame.parse_frame_header(view[:9])
        frame.parse_body(view[9 : 9 + length])
        view = view[9 + length :]
        if isinstance(frame, HeadersFrame):
            for name, value in decoder.decode(frame.data, raw=True):
                if name == b":status":
                    counts[value] = counts.get(value, 0) + 1
    return counts


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


def run_bare(reads: list[list[bytes]]) -> tuple[float, int]:
    """The ceiling: h2's own server connection (defaults) answering each request with a fixed 200."""
    conns = []
    for conn_reads in reads:
        h2 = H2Connection(H2Configuration(client_side=False, header_encoding=None))
        h2.initiate_connection()
        h2.receive_data(conn_reads[0])
        h2.data_to_send()
        written: list[bytes] = []
        conns.append((h2, written))
    rounds = max(len(r) for r in reads)
    start = time.process_time()
    for step in range(1, rounds):
        for (h2, written), conn_reads in zip(conns, reads, strict=True):
            if step >= len(conn_reads):
                continue
            for event in h2.receive_data(conn_reads[step]):
                if isinstance(event, RequestReceived):
                    h2.send_headers(event.stream_id, BARE_RESPONSE)
                    h2.send_data(event.stream_id, BODY, end_stream=True)
            written.append(h2.data_to_send())
    spent = time.process_time() - start
    done = 0
    for _, written in conns:
        counts = statuses(b"".join(written))
        if set(counts) != {b"200"}:
            raise SystemExit(f"bare: answers {counts}")
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
    parser.add_argument("--only", choices=["h2", "bare", "h1"])
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    cache = Path.home() / ".cache" / "meshgate-bench"
    tokens = seed.fresh_token_file(args.clients, cache).read_text().split()
    reads = client_reads(args.shape, tokens, args.requests, args.connections, args.streams)
    rows = [args.only] if args.only else ["h2", "bare", "h1"]
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

        runs = {"h2": meshgate_once, "bare": lambda: run_bare(reads), "h1": h1_once}
        label = {"h2": "h2 meshgate", "bare": "h2 bare h2 lib", "h1": "h1 meshgate"}
        for row in rows:
            spent, done = best_of(args.repeat, runs[row])
            print(f"{label[row]:<15} {spent / done * 1e6:7.2f} µs of CPU per request "
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
