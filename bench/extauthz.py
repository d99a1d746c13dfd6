"""External-authorizer benchmark: Check RPCs/s and p99 for a valid token, side by side with the gateway.

    .venv/bin/python bench/extauthz.py [--duration 5] [--connections 50] [--no-grpc]

Three contenders, one run, the Istio seed (bench/seed.py) and Istio's demo.jwt on every request:
- `ext_authz gRPC`: `Authorization/Check` RPCs from an asyncio grpc client in this process (one channel,
  `--connections` RPCs in flight). The Python client shares the 2 cores with the server, so this is a
  lower bound on what an Envoy would get from the same server.
- `ext_authz HTTP`: wrk against the HTTP authorization port (Envoy HTTP mode: the request is the question).
- `gateway`: wrk against `meshgate serve` proxying to its built-in app (decision + proxying).
Prints req/s, p50, p99 and each ext_authz front's throughput as a ratio of the gateway's. Exit 1 when a
contender did not start or answered anything but 200.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench.*` importable
    sys.path.insert(0, str(ROOT))

from bench import procs, seed, wrk_driver  # noqa: E402

AUTHZ_MAIN = (
    "import sys; from meshgate.extauthz.service import AuthzServerOptions, authz_server_main; "
    "sys.exit(authz_server_main(AuthzServerOptions(config_paths=(sys.argv[1],), grpc=sys.argv[2], "
    "http=sys.argv[3], admin=sys.argv[4], namespace='istio-system', labels={'istio': 'ingressgateway'})))"
)


async def grpc_load(
    port: int, token: str, seconds: float, concurrency: int
) -> tuple[int, float, float, float, int]:
    """(requests, seconds, p50 ms, p99 ms, non-OK answers) of Check RPCs for a valid token."""
    import grpc
    from envoy.service.auth.v3 import external_auth_pb2_grpc

    from meshgate.custom.grpc_client import check_request
    from meshgate.engine.attributes import RequestAttributes, build_headers

    headers = build_headers([("host", "bench.example"), ("authorization", f"Bearer {token}")])
    request = check_request(RequestAttributes("GET", "/", "bench.example", headers=headers))
    latencies: list[float] = []
    failures = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = external_auth_pb2_grpc.AuthorizationStub(channel)
        await stub.Check(request, timeout=5)  # connect + warm up
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await stub.Check(request, timeout=5)
                latencies.append(time.perf_counter() - started)
                failures += response.status.code != 0

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return len(latencies), elapsed, pick(0.50), pick(0.99), failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--no-grpc", action="store_true", help="skip the gRPC contender")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench/extauthz.py needs wrk (apt-get install wrk)", file=sys.stderr)
        return 1
    token = seed.demo_token()
    load = wrk_driver.Load(threads=1, connections=args.connections, duration=args.duration, cpus=None)
    rows: list[tuple[str, float, float, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="meshgate-bench-extauthz-") as tmp:
        work = Path(tmp)
        config = work / "seed.yaml"
        config.write_text(seed.policies_yaml(seed.jwks_text()))
        grpc_port, http_port, gw_port = procs.free_port(), procs.free_port(), procs.free_port()
        authz = procs.start(
            "authz-server",
            [
                sys.executable,
                "-c",
                AUTHZ_MAIN,
                str(config),
                "" if args.no_grpc else f"127.0.0.1:{grpc_port}",
                f"127.0.0.1:{http_port}",
                f"127.0.0.1:{procs.free_port()}",
            ],
            None,
            work,
        )
        gateway = procs.start(
            "gateway",
            [
                sys.executable,
                "-m",
                "meshgate",
                "serve",
                "-c",
                str(config),
                "--namespace",
                "istio-system",
                "--labels",
                "istio=ingressgateway",
                "--listen",
                f"127.0.0.1:{gw_port}",
                "--admin",
                f"127.0.0.1:{procs.free_port()}",
            ],
            None,
            work,
        )
        try:
            auth = {"Authorization": f"Bearer {token}"}
            procs.wait_ready(authz, http_port, auth, 30)
            procs.wait_ready(gateway, gw_port, auth, 30)
            mix = wrk_driver.Mix("reused", token=token)
            if not args.no_grpc:
                rows.append(
                    (
                        "ext_authz gRPC",
                        *_rate(asyncio.run(grpc_load(grpc_port, token, args.duration, args.connections))),
                    )
                )
            for name, port in (("ext_authz HTTP", http_port), ("gateway (serve)", gw_port)):
                r = wrk_driver.run(wrk, port, mix, load)
                rows.append((name, r.rps, r.p50_ms, r.p99_ms, r.non2xx + r.socket_errors))
        except procs.BenchError as exc:
            print(f"bench/extauthz.py: {exc}", file=sys.stderr)
            return 1
        finally:
            procs.stop(authz)
            procs.stop(gateway)
    return _report(rows)


def _rate(result: tuple[int, float, float, float, int]) -> tuple[float, float, float, int]:
    requests, seconds, p50, p99, failures = result
    return requests / seconds, p50, p99, failures


def _report(rows: list[tuple[str, float, float, float, int]]) -> int:
    gateway_rps = next(rps for name, rps, *_ in rows if name.startswith("gateway"))
    print(f"{'front':<18}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'× gateway':>11}")
    for name, rps, p50, p99, errors in rows:
        print(f"{name:<18}{rps:>10.0f}{p50:>9.2f}{p99:>9.2f}{errors:>8}{rps / gateway_rps:>11.2f}")
    return 1 if any(errors for *_, errors in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
