"""Drive wrk for one (contender, token mix) measurement and read its result.

Owns the load: the same wrk threads/connections/duration for everyone, wrk pinned to its own CPU, and
the three mixes — `mix`, the benchmark of record (bench/ingress_mix.lua: each request one of K clients'
tokens, a varied path and query, a fresh traceparent), `fresh` (the same requests, each with a token
never sent before) and `same` (one fixed request, wrk's static request: the byte-identical case).
Results come from the `WRKJSON` line the Lua `done()` prints, not from wrk's human-readable text.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import procs

BENCH_DIR = Path(__file__).resolve().parent
REPORT_LUA = BENCH_DIR / "wrk_report.lua"
MIX_LUA = BENCH_DIR / "ingress_mix.lua"
RESULT_MARK = "WRKJSON "


@dataclass(frozen=True)
class Load:
    """wrk's shape, identical for every contender in a run."""

    threads: int
    connections: int
    duration: float
    cpus: str | None


@dataclass(frozen=True)
class Mix:
    """A request mix: `token_file` drives ingress_mix.lua (`fresh`: each token once), else `token` is the
    static request's bearer token (`same`)."""

    name: str
    token: str | None = None
    token_file: Path | None = None
    fresh: bool = False


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    tokens_used: int
    tokens_available: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def repeated_tokens(self) -> int:
        """Fresh mix: requests whose token had already been sent in this run (the file ran out)."""
        if self.tokens_available == 0:
            return 0
        return max(0, self.tokens_used - self.tokens_available)


def command(wrk: str, url: str, mix: Mix, load: Load, duration: float | None = None) -> list[str]:
    seconds = max(1, round(duration if duration is not None else load.duration))
    argv = [wrk, f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s", "--latency"]
    if mix.token_file is not None:
        argv += ["-s", str(MIX_LUA), url, "--", str(mix.token_file), str(load.threads)]
        argv += ["fresh"] if mix.fresh else []
    else:
        if mix.token is not None:
            argv += ["-H", f"Authorization: Bearer {mix.token}"]
        argv += ["-s", str(REPORT_LUA), url]
    return procs.pinned(argv, load.cpus)


def parse(stdout: str) -> WrkResult:
    """The `WRKJSON {...}` line printed by the Lua `done()`."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            raw = json.loads(line[len(RESULT_MARK) :])
            return WrkResult(
                requests=int(raw["requests"]),
                seconds=int(raw["duration_us"]) / 1e6,
                p50_ms=int(raw["p50_us"]) / 1e3,
                p99_ms=int(raw["p99_us"]) / 1e3,
                non2xx=int(raw["non2xx"]),
                socket_errors=sum(int(raw[k]) for k in ("connect", "read", "write", "timeout")),
                tokens_used=int(raw["tokens_used"]),
                tokens_available=int(raw["tokens_available"]),
            )
    raise procs.BenchError(f"wrk printed no {RESULT_MARK.strip()} line:\n{stdout[-2000:]}")


def run(wrk: str, port: int, mix: Mix, load: Load, duration: float | None = None) -> WrkResult:
    url = f"http://127.0.0.1:{port}/"
    argv = command(wrk, url, mix, load, duration)
    limit = (duration if duration is not None else load.duration) + 60
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired as exc:
        raise procs.BenchError(f"wrk did not finish within {limit:.0f}s: {' '.join(argv)}") from exc
    if done.returncode != 0:
        raise procs.BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    return parse(done.stdout)
