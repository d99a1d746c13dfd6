"""`h2`/`hpack`'s pure-Python hot spots, replaced by equivalents that do the same checks faster.

- h2.utilities._reject_illegal_characters (RFC 9113 §8.2.1) walks every byte of every header in Python: a
  gRPC or ingress request with a 1 KB token in it spends more time there than in the policy decision. The
  same rules as two regular expressions: names without 0x00-0x20, A-Z, 0x7F-0xFF or a `:` past the first
  byte; values without NUL, CR, LF and not starting or ending with SP / HTAB.
- hpack's Huffman decoder runs a 4-bit state machine in Python: gateway/h2/huffman.py decodes a byte per
  step and remembers the strings clients resend.
- h2 validates received header blocks through seven chained generators: gateway/h2/validate.py applies
  the same rules in one pass.
- hpack's encoder searches its tables and Huffman-codes every field of every response. `StatelessEncoder`
  never uses the dynamic table (RFC 7541 §6.3: a size update to 0 opens the first block, and again after
  the peer changes SETTINGS_HEADER_TABLE_SIZE): a static-table entry by its index, anything else a literal
  without indexing, each field's bytes remembered. Responses repeat the same fields, so most cost a lookup.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Generator, Iterable
from typing import Any

import h2.stream
import h2.utilities
import hpack.hpack
from h2.exceptions import ProtocolError
from hpack.hpack import encode_integer
from hpack.struct import NeverIndexedHeaderTuple
from hpack.table import HeaderTable

from meshgate.gateway.h2 import huffman, validate

_BAD_NAME = re.compile(rb"[\x00-\x20A-Z\x7f-\xff]")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_WHITESPACE = (0x20, 0x09)


def reject_illegal_characters(headers: Iterable[Any], flags: Any) -> Generator[Any, None, None]:
    """h2's check, same outcome (ProtocolError on the first bad header), with C-speed scans."""
    for header in headers:
        name, value = header[0], header[1]
        if _BAD_NAME.search(name) is not None or name.find(b":", 1) != -1:
            raise ProtocolError(f"Illegal header name {name!r}")
        if value and (
            _BAD_VALUE.search(value) is not None or value[0] in _WHITESPACE or value[-1] in _WHITESPACE
        ):
            raise ProtocolError(f"Illegal header value {value!r}")
        yield header


FIELD_MEMO_ENTRIES = 4096
FIELD_MEMO_MAX_BYTES = 512
_STATIC = HeaderTable.STATIC_TABLE
_EXACT = {(name, value): i + 1 for i, (name, value) in reversed(list(enumerate(_STATIC)))}
_NAMES = {name: i + 1 for i, (name, _) in reversed(list(enumerate(_STATIC)))}
_SIZE_UPDATE_0 = b"\x20"  # 001 + 5-bit size 0


def _string(data: bytes) -> bytes:
    return bytes(encode_integer(len(data), 7)) + data  # H bit 0: raw octets


def encode_field(name: bytes, value: bytes, never_indexed: bool = False) -> bytes:
    """One header field without touching a dynamic table (RFC 7541 §6.1, §6.2.2, §6.2.3)."""
    index = _EXACT.get((name, value))
    if index is not None and not never_indexed:
        field = encode_integer(index, 7)
        field[0] |= 0x80
        return bytes(field)
    flag = 0x10 if never_indexed else 0x00
    name_index = _NAMES.get(name)
    if name_index is not None:
        head = encode_integer(name_index, 4)
        head[0] |= flag
        return bytes(head) + _string(value)
    return bytes([flag]) + _string(name) + _string(value)


class StatelessEncoder:
    """Stands in for hpack.Encoder on a connection (h2 calls `encode` and sets `header_table_size`)."""

    def __init__(self) -> None:
        self.size_update_due = True
        self.fields: OrderedDict[tuple[bytes, bytes], bytes] = OrderedDict()  # FIFO, O(1) eviction

    @property
    def header_table_size(self) -> int:
        return 0

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self.size_update_due = True

    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        parts = [_SIZE_UPDATE_0] if self.size_update_due else []
        self.size_update_due = False
        fields = self.fields
        for header in headers:
            name, value = header[0], header[1]
            if isinstance(header, NeverIndexedHeaderTuple):
                parts.append(encode_field(name, value, never_indexed=True))
                continue
            key = (name, value)
            field = fields.get(key)
            if field is None:
                field = encode_field(name, value)
                if len(field) <= FIELD_MEMO_MAX_BYTES:
                    if len(fields) >= FIELD_MEMO_ENTRIES:
                        fields.popitem(last=False)
                    fields[key] = field
            parts.append(field)
        return b"".join(parts)


def install() -> None:
    """Swap them in (idempotent); the gateway's HTTP/2 modules call it at import."""
    setattr(h2.utilities, "_reject_illegal_characters", reject_illegal_characters)  # noqa: B010
    setattr(hpack.hpack, "decode_huffman", huffman.decode_remembered)  # noqa: B010
    setattr(h2.stream, "validate_headers", validate.validate_headers)  # noqa: B010
