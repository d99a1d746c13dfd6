"""Processes of the gateway bench: start pinned to CPUs, wait until they answer HTTP, probe, stop.

Owns process lifetime only. Every server runs in its own session under `taskset`, logs to a file in the
run's temp dir, and is stopped by its own process group id (never by name). Failures are `BenchError`s
with the tail of the server's log, so a broken contender stops the bench with a readable message.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class BenchError(Exception):
    """The bench cannot produce a valid result (a contender failed, denied, or a tool is missing)."""


class Unavailable(BenchError):
    """A contender cannot be measured: it never answered, or it does not enforce the seed."""


class NotStarted(Unavailable):
    """A server never answered: it exited or stayed silent (e.g. `meshgate serve` not built yet)."""


@dataclass
class Server:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(argv: Sequence[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if cpus else list(argv)


def start(
    name: str, argv: Sequence[str], cpus: str | None, log_dir: Path, env: Mapping[str, str] | None = None
) -> Server:
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            pinned(argv, cpus),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=None if env is None else dict(env),
        )
    return Server(name, popen, log)


def stop(server: Server, grace: float = 5.0) -> None:
    """SIGTERM the server's own process group (nginx workers, meshgate workers), then SIGKILL if needed."""
    if server.popen.poll() is None:
        _signal_group(server.popen.pid, signal.SIGTERM)
        try:
            server.popen.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(server.popen.pid, signal.SIGKILL)
            server.popen.wait(grace)
    _signal_group(server.popen.pid, signal.SIGKILL)  # stragglers in the group, if any


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def request(
    port: int, headers: Mapping[str, str] | None = None, timeout: float = 5.0, path: str = "/"
) -> tuple[int, bytes]:
    """One GET `path` on loopback: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(
    server: Server, port: int, headers: Mapping[str, str], timeout: float, path: str = "/"
) -> None:
    """Poll until the server answers 200 to `headers`; fail early if it exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            raise NotStarted(f"{server.name} exited with {server.popen.returncode}:\n{server.log_tail()}")
        try:
            status, body = request(port, headers, timeout=1.0, path=path)
            if status == 200:
                return
            last = f"{status} {body[:80]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise NotStarted(f"{server.name} not ready after {timeout:.0f}s ({last}):\n{server.log_tail()}")


def seed_problems(
    port: int, cases: Sequence[tuple[str, Mapping[str, str], int, bytes]], path: str = "/"
) -> list[str]:
    """Ask the seed's questions; return one line per answer that differs (none: it answers as Envoy)."""
    problems = []
    for label, headers, want_status, want_body in cases:
        try:
            status, body = request(port, headers, path=path)
        except OSError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if (status, body) != (want_status, want_body):
            problems.append(f"{label}: got {status} {body[:80]!r}, want {want_status} {want_body!r}")
    return problems
