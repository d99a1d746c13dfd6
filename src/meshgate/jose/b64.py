"""JOSE wire decoding with jwt_verify_lib's exact leniency: base64url (absl) and JSON (protobuf Struct).

Base64url follows `absl::WebSafeBase64Unescape` (abseil-cpp absl/strings/escaping.cc
Base64UnescapeInternal with the kUnWebSafeBase64 table):
- alphabet `A-Z a-z 0-9 - _` only (`+` and `/` are invalid);
- ASCII whitespace (space, \\t, \\n, \\v, \\f, \\r) anywhere is skipped;
- after the data only whitespace and pad characters (`=` or `.`) may follow, and the number of pads must be
  0 or exactly the expected count (2 after a 2-char tail, 1 after a 3-char tail); none after a full quantum;
- a dangling single character (6 leftover bits) is invalid; non-zero trailing bits are NOT checked.

JSON follows what protobuf's `JsonStringToMessage` into a `Struct` accepts, as far as `json.loads` can say it:
the top level must be an object, `NaN`/`Infinity` literals are rejected, the text must be valid UTF-8.
Nesting deeper than MAX_JSON_DEPTH is refused up front so `json.loads` can never hit a RecursionError.
Duplicate names are refused, as protobuf's parser refuses them (observed on Envoy 1.40: a token header or
payload → `Jwt … is an invalid JSON`, an inline JWKS → `Jwks is an invalid JSON`).

Tokens get meshgate's strict variants too (docs/security.md "JWS"): `b64url_decode_strict` takes only
canonical RFC 7515 §2 base64url (alphabet only, no padding or whitespace, zero trailing bits; jws.py refuses
any other spelling absl accepts once Envoy's own checks passed),
and `load_token_json` refuses duplicate names (RFC 7515 §4, RFC 8725 §3.9), nesting deeper than
MAX_TOKEN_JSON_DEPTH and number literals longer than MAX_NUMBER_CHARS (no slow big-number path).
JWKS documents keep Envoy's leniency: they come from the operator, not from the client.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any

MAX_JSON_DEPTH = 64
MAX_TOKEN_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 64

_TO_STD = bytes.maketrans(b"-_", b"+/")
_ABSL_SPACE = " \t\n\v\f\r"  # absl::ascii_isspace
_B64URL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_PADS = "=."
_PADDING = ("", "", "==", "=")  # indexed by len % 4 (1 never reaches it)
_EXPECTED_PADS = {0: 0, 2: 2, 3: 1}  # leftover chars in the last quantum → pads that may follow


def b64url_decode(text: str) -> bytes | None:
    """Decode like absl::WebSafeBase64Unescape; None where absl returns false."""
    rem = len(text) % 4
    if rem != 1 and "=" not in text and "+" not in text and "/" not in text:
        try:  # fast path: pure alphabet, no padding (strict mode rejects anything else)
            return binascii.a2b_base64(
                (text + _PADDING[rem]).encode("ascii").translate(_TO_STD), strict_mode=True
            )
        except (binascii.Error, UnicodeEncodeError):
            pass
    return _slow_decode(text)


_SIXTET = {ch: i for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_UNUSED_BITS = (0, 0, 0b1111, 0b11)  # by len % 4: bits of the last character that carry no data
# base64url → standard base64; `+`, `/` and `=` are not base64url, so they become `!`, which strict mode refuses
_STRICT_TABLE = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING_BYTES = (b"", b"", b"==", b"=")


def b64url_decode_strict(text: str) -> bytes | None:
    """Canonical base64url only (RFC 7515 §2, RFC 4648 §3.5): one spelling per byte string, else None.

    One C pass: after the translation only the base64url alphabet is still base64, and binascii's strict
    mode refuses any other byte (whitespace included); the padding is ours, exact for the length.
    """
    rem = len(text) % 4
    if rem == 1:
        return None
    try:
        raw = binascii.a2b_base64(
            text.encode("ascii").translate(_STRICT_TABLE) + _PADDING_BYTES[rem], strict_mode=True
        )
    except (binascii.Error, UnicodeEncodeError):
        return None
    if rem and _SIXTET[text[-1]] & _UNUSED_BITS[rem]:
        return None  # non-zero trailing bits: another spelling of the same bytes
    return raw


def _decode_std(data: str, rem: int) -> bytes | None:
    try:
        return binascii.a2b_base64((data + _PADDING[rem]).encode("ascii").translate(_TO_STD))
    except (binascii.Error, ValueError):  # pragma: no cover - the alphabet was checked
        return None


def _slow_decode(text: str) -> bytes | None:
    data: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in _B64URL_CHARS:
            data.append(ch)
        elif ch in _PADS:
            break
        elif ch not in _ABSL_SPACE:
            return None
        i += 1
    pads = 0
    for ch in text[i:]:
        if ch in _PADS:
            pads += 1
        elif ch not in _ABSL_SPACE:
            return None
    rem = len(data) % 4
    if rem == 1:
        return None
    if pads != 0 and pads != _EXPECTED_PADS[rem]:
        return None
    return _decode_std("".join(data), rem)


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as JWS compact serialization writes it (RFC 7515 §2)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii").translate(_FROM_STD).rstrip("=")


_FROM_STD = str.maketrans("+/", "-_")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_object)


def _bounded(convert: Any) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise ValueError("number literal too long")
        return convert(text)

    return parse


_TOKEN_DECODER = json.JSONDecoder(
    parse_constant=_reject_constant,
    object_pairs_hook=_unique_object,
    parse_int=_bounded(int),
    parse_float=_bounded(float),
)


def load_token_json(raw: bytes) -> dict[str, Any] | None:
    """A token header or payload: a JSON object with unique names, bounded depth and numbers; else None."""
    try:
        text = raw.decode("utf-8")
        if text.count("{") + text.count("[") > MAX_TOKEN_JSON_DEPTH and _too_deep(text, MAX_TOKEN_JSON_DEPTH):
            return None  # (the count first: _too_deep's own cheap test, without the call)
        value = _load_unique(text)
        if value is None:  # not proven free of duplicate names: the parser that refuses them decides
            value = _TOKEN_DECODER.decode(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# _TOKEN_DECODER without the object hook: C builds the dicts, and duplicate names are found by counting
_PLAIN_TOKEN_DECODER = json.JSONDecoder(
    parse_constant=_reject_constant, parse_int=_bounded(int), parse_float=_bounded(float)
)
_scan_plain: Callable[[str, int], tuple[Any, int]] = _PLAIN_TOKEN_DECODER.scan_once  # type: ignore[attr-defined]


def _load_unique(text: str) -> dict[str, Any] | None:
    """The object `text` is when it provably has no duplicate name; None leaves the answer to _TOKEN_DECODER.

    Outside strings a JSON text has one `:` per object member, so `text.count(":")` is M + S: M members in
    all its objects, S colons inside its strings. The parsed value keeps K ≤ M names (a duplicate keeps
    one) and S' ≤ S colons in its strings (a dropped member takes its strings along; without a backslash
    every string reads as it is spelled). So K + S' = M + S exactly when nothing was dropped. Cheapest
    case: len(value) = M + S alone proves it (len(value) ≤ K ≤ M). A text the hook-free parse
    refuses, _TOKEN_DECODER refuses as well (it differs only by refusing duplicates).
    """
    if text[:1] != "{" or text[-1:] != "}":
        return None
    try:
        value, end = _scan_plain(text, 0)
    except (ValueError, RecursionError, StopIteration):
        return None
    if end != len(text):
        return None
    colons = text.count(":")
    if colons == len(value) or ("\\" not in text and colons == _names_and_colons(value)):
        return value  # type: ignore[no-any-return]
    return None


def _names_and_colons(value: dict[str, Any] | list[Any]) -> int:
    """Names of every object in `value` plus the colons in every string in it, names included."""
    if type(value) is dict:
        total = len(value)
        items: Any = value.items()
    else:
        total = 0
        items = enumerate(value)
    for name, item in items:
        if type(name) is str:
            total += name.count(":")
        kind = type(item)
        if kind is str:
            total += item.count(":")
        elif kind is dict or kind is list:
            total += _names_and_colons(item)
    return total


def _too_deep(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if brackets nest deeper than `limit` outside strings (cheap when there are few)."""
    if isinstance(text, bytes):
        opens = text.count(b"{") + text.count(b"[")
        s = text.decode("utf-8", errors="replace")
    else:
        opens = text.count("{") + text.count("[")
        s = text
    if opens <= limit:
        return False
    depth = 0
    in_str = False
    escaped = False
    for ch in s:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
            if depth > limit:
                return True
        elif ch in "}]":
            depth -= 1
    return False


def load_json_object(text: str | bytes) -> dict[str, Any] | None:
    """Parse a JSON object as protobuf's Struct parser would accept it; None when it would not."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if _too_deep(text):
            return None
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None
