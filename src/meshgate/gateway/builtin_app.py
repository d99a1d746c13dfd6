"""The built-in upstream used when `serve` has no `--upstream`: `200 Hello World! <path>` (query excluded).

It stands in for the application behind the gateway, so its answer goes through the same response-head
rules as a proxied one (`x-envoy-upstream-service-time`, `date`, `server: istio-envoy`).
"""

from __future__ import annotations

from meshgate.gateway.heads import downstream_response_head

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


def hello_response(
    path: str, *, date_line: bytes, head: bool = False, close: bool = False
) -> tuple[bytes, int]:
    """(response bytes, body bytes sent) for one allowed request."""
    body = hello_body(path)
    headers = [(b"content-type", CONTENT_TYPE), (b"content-length", b"%d" % len(body))]
    head_bytes = downstream_response_head(200, headers, date_line=date_line, service_time_ms=0, close=close)
    if head:
        return head_bytes, 0
    return head_bytes + body, len(body)
