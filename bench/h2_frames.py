"""The client half of bench/inproc_h2.py, and its ceiling: a bare `h2` server as the library ships.

    .venv/bin/python bench/h2_frames.py [--requests N] [--repeat R] [--connections C] [--streams S]
                                        [--shape ingress|h2load]

Imports nothing of meshgate, so `h2` and `hpack` run unpatched (meshgate's gateway/h2/speedups.py swaps
parts of them at import): prints the µs of CPU per request of an h2 server connection with the library's
defaults reading inproc_h2's frames and answering every stream with a fixed 200 (no decision, no upstream).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from h2.config import H2Configuration  # noqa: E402
from h2.connection import H2Connection  # noqa: E402
from h2.events import RequestReceived  # noqa: E402
from hpack import Decoder, Encoder  # noqa: E402
from hpack.struct import HeaderTuple, NeverIndexedHeaderTuple  # noqa: E402
from hyperframe.frame import Frame, HeadersFrame, SettingsFrame, WindowUpdateFrame  # noqa: E402

from bench import seed  # noqa: E402

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


def request_fields(shape: str, rng: random.Random, tokens: list[str], n: int) -> list[tuple[bytes, bytes]]:
    """Request `n` of a connection. `ingress`: a random client's token in `authorization`, a fresh path and
    traceparent. `h2load`: what bench/h2load_driver.py makes h2load send — one URI per client (its token in
    `access_token`, a path drawn once), cycled in order, and h2load's fixed header set."""
    if shape == "h2load":
        uri = random.Random(n % len(tokens))
        path = f"/api/v1/items/{uri.randint(1, 100000)}?page={uri.randint(1, 20)}"
        return [(b":method", b"GET"), (b":path", f"{path}&access_token={tokens[n % len(tokens)]}".encode()),
                (b":scheme", b"http"), (b":authority", AUTHORITY), (b"user-agent", b"h2load nghttp2/1.52.0"),
                (b"accept", b"*/*"), (b"accept-encoding", b"gzip, deflate")]  # fmt: skip
    pick = rng.randrange(len(tokens))
    path = f"/api/v1/items/{rng.randint(1, 100000)}?page={rng.randint(1, 20)}"
    trace = f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"
    return [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", AUTHORITY),
            (b":path", path.encode()), (b"authorization", f"Bearer {tokens[pick]}".encode()),
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
        for n in range(per_conn):
            fields = [
                NeverIndexedHeaderTuple(k, v) if k in NOT_INDEXED else HeaderTuple(k, v)
                for k, v in request_fields(shape, rng, tokens, n)
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


def run_bare(reads: list[list[bytes]], make: Callable[[], H2Connection] | None = None) -> tuple[float, int]:
    """The ceiling: h2's own server connection answering each request with a fixed 200; `make` builds it
    otherwise than with the library's defaults (inproc_h2's `bare tuned` row: meshgate's settings)."""
    conns = []
    for conn_reads in reads:
        h2 = make() if make else H2Connection(H2Configuration(client_side=False, header_encoding=None))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--shape", default="ingress", choices=["ingress", "h2load"])
    args = parser.parse_args(argv)
    tokens = (
        seed.fresh_token_file(args.clients, Path.home() / ".cache" / "meshgate-bench").read_text().split()
    )
    reads = client_reads(args.shape, tokens, args.requests, args.connections, args.streams)
    runs = [run_bare(reads) for _ in range(args.repeat)]
    print(f"{min(r[0] for r in runs) / runs[0][1] * 1e6:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
