"""What a verified token writes: claim headers and the normalized payload (docs/istio-semantics.md §3.5).

Source: envoyproxy/envoy:source/extensions/filters/http/jwt_authn/authenticator.cc
(addJWTClaimToHeader, convertClaimDoubleToString, setPayloadMetadata), newest version:
- claim looked up with struct_utils GetValue: '.' separates nested object keys;
- string → as is; number → integer text when a whole number in [0, 2^64), else C `%f`
  (std::to_string(double)); bool → true/false; object or list → standard base64 (padded) of the compact
  protobuf JSON (MessageToJsonString); an empty result (e.g. "") adds no header;
- payload metadata: each space-delimited claim whose top-level value is a string is split on ' '
  (empty pieces dropped) into a list; if nothing remains the string is kept.
The protobuf JSON printer's number text (SimpleDtoa: %.15g, else %.17g) and string escaping (control and
format characters as \\uXXXX, `<`/`>` escaped, other non-ASCII as UTF-8) are reproduced — both checked
against a real Envoy 1.40. Object member order there is protobuf's hash-map order (varies), so meshgate
keeps the payload's order.

meshgate adds no header whose value could not be a field value (docs/security.md "Output headers"): a claim
holding a control character (CR/LF would inject headers upstream) or a lone surrogate adds none.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Any

_UINT64_LIMIT = float(2**64)
_MISSING = object()
# RFC 9110 §5.5: a field value holds no CTL but HTAB; a lone surrogate cannot be encoded at all.
_NOT_FIELD_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")

# protobuf JSON string escaping (util/internal/json_escaping.cc), confirmed with Envoy 1.40
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_ESCAPED_RANGES = (
    (0x00, 0x1F),
    (0x3C, 0x3C),
    (0x3E, 0x3E),
    (0x7F, 0x9F),
    (0xAD, 0xAD),
    (0x600, 0x603),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x17B4, 0x17B5),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x206A, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)


def _escape_char(ch: str) -> str:
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    cp = ord(ch)
    for low, high in _ESCAPED_RANGES:
        if low <= cp <= high:
            if cp > 0xFFFF:
                cp -= 0x10000
                return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"
            return f"\\u{cp:04x}"
    return ch


def json_string(text: str) -> str:
    """A JSON string literal as protobuf's printer writes it."""
    return '"' + "".join(_escape_char(ch) for ch in text) + '"'


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
    if isinstance(value, str):
        return json_string(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
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
    if not text or _NOT_FIELD_VALUE.search(text):
        return None
    return text


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
