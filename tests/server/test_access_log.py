"""Access log lines: Envoy's default format (Envoy docs "Default format string") plus the reason."""

from __future__ import annotations

import io
import json

import pytest

from meshgate.server.access_log import (
    AccessLog,
    AccessLogEntry,
    format_envoy,
    format_reason,
    format_start_time,
)

T0 = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z

FULL = AccessLogEntry(
    start_time=T0,
    method="GET",
    path="/ip?x=1",
    protocol="HTTP/1.1",
    response_code=200,
    response_flags="-",
    bytes_received=0,
    bytes_sent=12,
    duration_ms=3,
    upstream_service_time_ms=2,
    xff="10.0.0.1",
    user_agent="curl/8.5.0",
    request_id="4bd3c4a3-0e4f-4d5c-9d1b-0f4e1a9a0b1c",
    authority="httpbin:8000",
    upstream_host="127.0.0.1:9000",
    reason="ns[foo]-policy[require-jwt]-rule[0]",
)
DENIED = AccessLogEntry(T0, "GET", "/headers", "HTTP/1.1", 401, bytes_sent=14, reason="Jwt is expired")
NO_RESPONSE = AccessLogEntry(T0, "POST", "/x", "HTTP/1.1", 0, "DC", reason="none")


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        pytest.param(
            FULL,
            '[2023-11-14T22:13:20.250Z] "GET /ip?x=1 HTTP/1.1" 200 - 0 12 3 2 "10.0.0.1" "curl/8.5.0" '
            '"4bd3c4a3-0e4f-4d5c-9d1b-0f4e1a9a0b1c" "httpbin:8000" "127.0.0.1:9000"'
            " policy=ns[foo]-policy[require-jwt]-rule[0]\n",
            id="allowed-by-policy",
        ),
        pytest.param(
            DENIED,
            '[2023-11-14T22:13:20.250Z] "GET /headers HTTP/1.1" 401 - 0 14 0 - "-" "-" "-" "-" "-"'
            ' reason="Jwt is expired"\n',
            id="jwt-failure-missing-values-print-dash",
        ),
        pytest.param(
            NO_RESPONSE,
            '[2023-11-14T22:13:20.250Z] "POST /x HTTP/1.1" 0 DC 0 0 0 - "-" "-" "-" "-" "-" policy=none\n',
            id="no-policy",
        ),
    ],
)
def test_envoy_default_format(entry: AccessLogEntry, line: str) -> None:
    assert format_envoy(entry) == line


@pytest.mark.parametrize(
    ("reason", "suffix"),
    [
        ("ns[istio-system]-policy[ingress]-rule[0]", " policy=ns[istio-system]-policy[ingress]-rule[0]"),
        ("Jwt is expired", ' reason="Jwt is expired"'),
        ("RBAC: access denied", ' reason="RBAC: access denied"'),
        ('say "hi"', ' reason="say \\"hi\\""'),
        ("none", " policy=none"),
        ("", " policy=none"),
    ],
)
def test_reason_suffix(reason: str, suffix: str) -> None:
    assert format_reason(reason) == suffix


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (T0, "2023-11-14T22:13:20.250Z"),
        (1.999, "1970-01-01T00:00:01.999Z"),
    ],
)
def test_start_time_is_utc_with_milliseconds(epoch: float, text: str) -> None:
    assert format_start_time(epoch) == text


def test_json_mode_has_the_same_fields() -> None:
    out = io.StringIO()
    AccessLog(out, "json").log(FULL)
    AccessLog(out, "json").log(DENIED)
    full, denied = (json.loads(line) for line in out.getvalue().splitlines())
    assert full == {
        "start_time": "2023-11-14T22:13:20.250Z",
        "method": "GET",
        "path": "/ip?x=1",
        "protocol": "HTTP/1.1",
        "response_code": 200,
        "response_flags": None,
        "bytes_received": 0,
        "bytes_sent": 12,
        "duration": 3,
        "upstream_service_time": 2,
        "x_forwarded_for": "10.0.0.1",
        "user_agent": "curl/8.5.0",
        "request_id": "4bd3c4a3-0e4f-4d5c-9d1b-0f4e1a9a0b1c",
        "authority": "httpbin:8000",
        "upstream_host": "127.0.0.1:9000",
        "policy": "ns[foo]-policy[require-jwt]-rule[0]",
        "reason": None,
    }
    assert denied["reason"] == "Jwt is expired" and denied["policy"] is None and denied["authority"] is None


def test_envoy_mode_writes_one_line_per_entry() -> None:
    out = io.StringIO()
    log = AccessLog(out)
    log.log(FULL)
    log.log(DENIED)
    assert out.getvalue() == format_envoy(FULL) + format_envoy(DENIED)


def test_a_closed_stream_never_fails_a_request() -> None:
    out = io.StringIO()
    out.close()
    AccessLog(out).log(FULL)  # must not raise


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="envoy"):
        AccessLog(io.StringIO(), "xml")  # type: ignore[arg-type]
