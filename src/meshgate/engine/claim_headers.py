"""What a verified token writes: claim headers and the normalized payload (istio-semantics.md §1.7).

Source: envoyproxy/envoy:source/extensions/filters/http/jwt_authn/authenticator.cc
(addJWTClaimToHeader, convertClaimDoubleToString, setPayloadMetadata), newest version:
- claim looked up with struct_utils GetValue: '.' separates nested object keys;
- string → as is; number → integer text when a whole number in [0, 2^64), else C `%f`
  (std::to_string(double)); bool → true/false; object or list → standard base64 (padded) of the compact
  protobuf JSON (MessageToJsonString); an empty result (e.g. "") adds no header;
- payload metadata: each space-delimited claim whose top-level value is a string is split on ' '
  (empty pieces dropped) into a list; if nothing remains the string is kept.
The protobuf JSON printer's number text (SimpleDtoa: %.15g, else %.17g) is reproduced; object member
order in that JSON is the payload's order (protobuf's own order is UNCONFIRMED).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

_UINT64_LIMIT = float(2**64)
_MISSING = object()


def lookup_claim(payload: dict[str, Any], name: str) -> Any:
    """struct_utils.cc GetValue: nested lookup by '.'; a missing step yields _MISSING."""
    current: Any = payload
    parts = name.split(".")
    for i, part in enumerate(parts):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
        if i < len(parts) - 1 and not isinstance(current, dict):
            return _MISSING
    return current


def double_to_string(value: float) -> str:
    """authenticator.cc convertClaimDoubleToString."""
    if value < 0 or value >= _UINT64_LIMIT or value != int(value):
        return f"{value:f}"
    return str(int(value))


def _dtoa(value: float) -> str:
    """protobuf io::SimpleDtoa: shortest of %.15g / %.17g that round-trips."""
    if value != value:
        return '"NaN"'
    if value in (float("inf"), float("-inf")):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    text = f"{value:.15g}"
    if float(text) != value:
        text = f"{value:.17g}"
    return text


def proto_json(value: Any) -> str:
    """Compact JSON as protobuf's MessageToJsonString prints a Struct/ListValue (numbers as doubles)."""
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{proto_json(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(proto_json(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value, ensure_ascii=False)
    try:
        return _dtoa(float(value))
    except OverflowError:
        return '"Infinity"' if value > 0 else '"-Infinity"'


def claim_header_value(payload: dict[str, Any], claim: str) -> str | None:
    """The header value Envoy adds for `claim`, or None when it adds none."""
    value = lookup_claim(payload, claim)
    if value is _MISSING or value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)):
        try:
            text = double_to_string(float(value))
        except OverflowError:
            text = "inf"
        # a huge JSON integer is a double in protobuf; the f-format of inf is "inf", as in C
    elif isinstance(value, (dict, list)):
        text = base64.b64encode(proto_json(value).encode()).decode("ascii")
    else:  # pragma: no cover - JSON yields nothing else
        text = ""
    return text or None


def normalize_payload(payload: dict[str, Any], space_delimited: Sequence[str]) -> dict[str, Any]:
    """authenticator.cc setPayloadMetadata: split listed top-level string claims on spaces."""
    out = payload
    for claim in space_delimited:
        value = payload.get(claim)
        if isinstance(value, str):
            pieces = [p for p in value.split(" ") if p]
            if pieces:
                if out is payload:
                    out = dict(payload)
                out[claim] = pieces
    return out
