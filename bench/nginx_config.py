"""nginx configurations for the gateway bench: the shared `Hello World!` upstream and the plain proxy.

Owns only configuration text. Both run in the foreground (`daemon off`) with every path (pid, logs,
temp dirs) under a private prefix, so several can run at once without root-owned defaults. Keep-alive
limits are raised so no contender's connections are recycled mid-run (nginx's default is 1000
requests per connection, Envoy has no such limit).
"""

from __future__ import annotations

import os
from pathlib import Path

UPSTREAM_BODY = "Hello World!"
KEEPALIVE_REQUESTS = 10_000_000


def _main_block(prefix: Path, name: str, workers: int) -> str:
    # As root nginx drops worker privileges to `nobody`, who cannot write the private temp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}daemon off;\nmaster_process on;\nworker_processes {workers};\n"
        f"pid {prefix / (name + '.pid')};\nerror_log {prefix / (name + '-error.log')} warn;\n"
        "events { worker_connections 4096; }\n"
    )


def _http_common(prefix: Path, name: str) -> str:
    temp = "".join(
        f"  {kind}_temp_path {prefix / (name + '-' + kind)};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"  access_log off;\n  default_type text/plain;\n  keepalive_requests {KEEPALIVE_REQUESTS};\n{temp}"
    )


def upstream_conf(*, port: int, prefix: Path, workers: int = 1) -> str:
    """The upstream every contender forwards to: `return 200 "Hello World!"`, nothing else."""
    return (
        _main_block(prefix, "upstream", workers)
        + "http {\n"
        + _http_common(prefix, "upstream")
        + f"  server {{\n    listen 127.0.0.1:{port};\n"
        + f'    location / {{ return 200 "{UPSTREAM_BODY}"; }}\n  }}\n}}\n'
    )


def proxy_conf(*, port: int, upstream_port: int, prefix: Path, workers: int) -> str:
    """Plain `proxy_pass`, no auth, pooled keep-alive connections to the upstream."""
    name = f"proxy-w{workers}"
    return (
        _main_block(prefix, name, workers)
        + "http {\n"
        + _http_common(prefix, name)
        + f"  upstream backend {{\n    server 127.0.0.1:{upstream_port};\n    keepalive 64;\n"
        + f"    keepalive_requests {KEEPALIVE_REQUESTS};\n  }}\n"
        + f"  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n"
        + "      proxy_pass http://backend;\n      proxy_http_version 1.1;\n"
        + '      proxy_set_header Connection "";\n    }\n  }\n}\n'
    )


def write(prefix: Path, name: str, text: str) -> Path:
    path = prefix / f"{name}.conf"
    path.write_text(text)
    return path


def command(nginx: str, prefix: Path, conf: Path) -> list[str]:
    """nginx argv: `-p` and `-e` keep even the startup error log inside the prefix."""
    return [nginx, "-p", str(prefix), "-e", str(prefix / "startup-error.log"), "-c", str(conf)]
