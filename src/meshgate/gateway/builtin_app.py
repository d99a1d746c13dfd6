"""The built-in upstream used when `serve` has no `--upstream`: `200 Hello World! <path>` (query excluded).

It stands in for the application behind the gateway, so its answer goes through the same response-head
rules as a proxied one (`x-envoy-upstream-service-time`, `date`, `server: istio-envoy`).
"""

from __future__ import annotations

HELLO_PREFIX = "Hello World! "
CONTENT_TYPE = b"text/plain"


def hello_body(path: str) -> bytes:
    """`Hello World! <path>`; `path` is the (normalized) request-target the upstream would receive."""
    cut = len(path)
    for sep in ("?", "#"):
        at = path.find(sep)
        if 0 <= at < cut:
            cut = at
    return (HELLO_PREFIX + path[:cut]).encode("utf-8", "replace")


def hello_head(path: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(response headers, body) for one allowed request, for any downstream protocol."""
    body = hello_body(path)
    return [(b"content-type", CONTENT_TYPE), (b"content-length", b"%d" % len(body))], body
