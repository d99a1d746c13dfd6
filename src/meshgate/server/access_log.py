"""The access log: one line per request in Envoy's default format plus the decision's reason, or JSON.

Envoy's default format (Envoy docs, configuration/observability/access_log "Default format string"):
`[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"`;
a missing value prints `-`, START_TIME is `%Y-%m-%dT%H:%M:%E3SZ` in UTC. JSON keys follow Istio's
JSON access log (meshConfig `accessLogEncoding: JSON`); meshgate adds `policy` and `reason`.
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal, TextIO

AccessLogFormat = Literal["envoy", "json"]
MISSING = "-"  # Envoy's placeholder for an unavailable value
POLICY_ID = re.compile(r"^ns\[[^\]]*\]-policy\[[^\]]*\]-rule\[\d+\]$")


@dataclass(slots=True)
class AccessLogEntry:
    """What one request leaves in the log. `start_time` is epoch seconds; None/"" print as `-`.

    A plain record, compared by value: one is built per request on the data path.
    """

    start_time: float
    method: str
    path: str
    protocol: str
    response_code: int
    response_flags: str = MISSING
    bytes_received: int = 0
    bytes_sent: int = 0
    duration_ms: int = 0
    upstream_service_time_ms: int | None = None
    xff: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    authority: str | None = None
    upstream_host: str | None = None
    reason: str = "none"
    # meshgate as the ingress: Istio's %UPSTREAM_CLUSTER_RAW% and %ROUTE_NAME% (printed only when routed)
    upstream_cluster: str | None = None
    route_name: str | None = None
    routed: bool = False


def format_start_time(epoch_s: float) -> str:
    """Envoy's `%START_TIME%` default: `2026-11-29T09:03:27.123Z`."""
    whole = int(epoch_s)
    millis = int((epoch_s - whole) * 1000)
    return f"{_whole_second(whole)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4)
def _whole_second(whole: int) -> str:
    """strftime once per second, not once per line (the log is written on the data path)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))


def split_reason(reason: str) -> tuple[str | None, str | None]:
    """(policy id, reason text): a `ns[..]-policy[..]-rule[i]` id, or the JWT failure / sentence."""
    if POLICY_ID.match(reason):
        return reason, None
    if reason in ("", "none"):
        return None, None
    return None, reason


@functools.lru_cache(maxsize=1024)
def format_reason(reason: str) -> str:
    """The suffix after Envoy's fields: ` policy=ID`, ` reason="text"`, or ` policy=none`."""
    policy, text = split_reason(reason)
    if policy is not None:
        return f" policy={policy}"
    if text is not None:
        return " reason=" + json.dumps(text, ensure_ascii=False)
    return " policy=none"


def _v(value: object) -> str:
    return MISSING if value is None or value == "" else str(value)


def format_envoy(e: AccessLogEntry) -> str:
    """One line (with newline) in Envoy's default format followed by the decision's reason."""
    return (
        f'[{format_start_time(e.start_time)}] "{_v(e.method)} {_v(e.path)} {_v(e.protocol)}" '
        f"{e.response_code} {_v(e.response_flags)} {e.bytes_received} {e.bytes_sent} {e.duration_ms} "
        f'{_v(e.upstream_service_time_ms)} "{_v(e.xff)}" "{_v(e.user_agent)}" "{_v(e.request_id)}" '
        f'"{_v(e.authority)}" "{_v(e.upstream_host)}"{_routed(e)}{format_reason(e.reason)}\n'
    )


def _routed(e: AccessLogEntry) -> str:
    """Istio's default format (istio/istio:pilot/pkg/model/telemetry_logging.go) goes on after
    %UPSTREAM_HOST% with %UPSTREAM_CLUSTER_RAW% ... %ROUTE_NAME%; meshgate prints those two when routing."""
    return f" {_v(e.upstream_cluster)} {_v(e.route_name)}" if e.routed else ""


def _n(value: str | None) -> str | None:
    return None if value is None or value in ("", MISSING) else value


def json_fields(e: AccessLogEntry) -> dict[str, Any]:
    """The same fields as the Envoy line, keyed as Istio's JSON access log; absent values are null."""
    policy, text = split_reason(e.reason)
    return {
        "start_time": format_start_time(e.start_time),
        "method": _n(e.method),
        "path": _n(e.path),
        "protocol": _n(e.protocol),
        "response_code": e.response_code,
        "response_flags": _n(e.response_flags),
        "bytes_received": e.bytes_received,
        "bytes_sent": e.bytes_sent,
        "duration": e.duration_ms,
        "upstream_service_time": e.upstream_service_time_ms,
        "x_forwarded_for": _n(e.xff),
        "user_agent": _n(e.user_agent),
        "request_id": _n(e.request_id),
        "authority": _n(e.authority),
        "upstream_host": _n(e.upstream_host),
        **({"upstream_cluster": e.upstream_cluster, "route_name": e.route_name} if e.routed else {}),
        "policy": policy,
        "reason": text,
    }


def format_json(e: AccessLogEntry) -> str:
    return json.dumps(json_fields(e), ensure_ascii=False, separators=(",", ":")) + "\n"


class AccessLog:
    """Writes entries to `stream`; a failing stream (closed pipe) never fails a request."""

    def __init__(self, stream: TextIO, fmt: AccessLogFormat = "envoy") -> None:
        if fmt not in ("envoy", "json"):
            raise ValueError(f"access log format must be 'envoy' or 'json', not {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self._format = format_envoy if fmt == "envoy" else format_json

    def log(self, entry: AccessLogEntry) -> None:
        try:
            self.stream.write(self._format(entry))
            self.stream.flush()
        except (OSError, ValueError):
            pass
