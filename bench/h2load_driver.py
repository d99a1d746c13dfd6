"""Drive h2load (Debian nghttp2-client) for the HTTP/2 row: the ingress mix over h2c with prior knowledge.

h2load sends one header set (`-H`) with every request and varies only the URI (`-i FILE`, in order, per
client), so a per-request token cannot travel in `Authorization`. The closest realistic single run puts each
client's token where Istio's jwt_authn also looks by default, the `access_token` query parameter (no
`fromParams` in the seed): the URI file has one line per client of the ingress mix — that client's token, a
varied /api/v1/items/<n>?page=<p> path — so the run carries K clients' reused tokens and no two requests
are alike. All answers must be 200, as in the HTTP/1.1 mix. Latency: h2load reports mean and max per
request (no percentiles): the row's p50 column holds the mean and p99 the max.
"""

from __future__ import annotations

import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.wrk_driver import WrkResult

from bench import procs


@dataclass(frozen=True)
class H2Load:
    clients: int  # connections
    streams: int  # concurrent streams per connection (-m)
    duration: float
    cpus: str | None


def uri_file(token_file: Path, out: Path, port: int, seed: int = 14) -> Path:
    """One URI per client of the mix: its token in `access_token`, a varied path and page."""
    rng = random.Random(seed)
    tokens = [line.strip() for line in token_file.read_text().splitlines() if line.strip()]
    lines = [
        f"http://127.0.0.1:{port}/api/v1/items/{rng.randint(1, 100000)}?page={rng.randint(1, 20)}"
        f"&access_token={token}"
        for token in tokens
    ]
    out.write_text("\n".join(lines) + "\n")
    return out


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise procs.BenchError(f"h2load: unreadable time {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(stdout: str, tokens: int) -> WrkResult:
    finished = re.search(r"finished in ([\d.]+)s", stdout)
    requests = re.search(r"requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, "
                         r"(\d+) errored, (\d+) timeout", stdout)  # fmt: skip
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", stdout)
    timing = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", stdout)
    if not (finished and requests and codes and timing):
        raise procs.BenchError(f"h2load printed no summary:\n{stdout[-2000:]}")
    done = int(requests.group(1))
    return WrkResult(
        requests=done,
        seconds=float(finished.group(1)),
        p50_ms=_ms(timing.group(3)),  # mean
        p99_ms=_ms(timing.group(2)),  # max
        non2xx=sum(int(codes.group(i)) for i in (2, 3, 4)) + int(requests.group(2)),
        socket_errors=int(requests.group(3)) + int(requests.group(4)),
        tokens_used=done,
        tokens_available=tokens,
    )


def run(h2load: str, port: int, token_file: Path, load: H2Load, tmp: Path, warmup: float) -> WrkResult:
    uris = uri_file(token_file, tmp / f"h2-uris-{port}.txt", port)
    argv = [h2load, "-t1", f"-c{load.clients}", f"-m{load.streams}", f"-D{max(1, round(load.duration))}",
            "-i", str(uris)]  # fmt: skip
    if warmup > 0:
        argv.append(f"--warm-up-time={max(1, round(warmup))}")
    limit = load.duration + warmup + 60
    try:
        done = subprocess.run(
            procs.pinned(argv, load.cpus), capture_output=True, text=True, timeout=limit, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise procs.BenchError(f"h2load did not finish within {limit:.0f}s") from exc
    if done.returncode != 0:
        raise procs.BenchError(
            f"h2load failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}"
        )
    return parse(done.stdout, len(token_file.read_text().split()))
