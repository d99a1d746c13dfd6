"""Two of `h2`/`hpack`'s pure-Python hot spots, replaced by equivalents that do the same checks faster.

- h2.utilities._reject_illegal_characters (RFC 9113 §8.2.1) walks every byte of every header in Python: a
  gRPC or ingress request with a 1 KB token in it spends more time there than in the policy decision. The
  same rules as two regular expressions: names without 0x00-0x20, A-Z, 0x7F-0xFF or a `:` past the first
  byte; values without NUL, CR, LF and not starting or ending with SP / HTAB.
- hpack's Huffman decoder runs a 4-bit state machine in Python. Clients send the same Huffman-coded strings
  again and again (a client's token in a `:path` that the dynamic table does not keep, its user-agent), so
  decoded strings are remembered by their exact encoded bytes: at most MEMO_ENTRIES strings of at most
  MEMO_MAX_BYTES each (≤ 16 MiB a process), the oldest dropped first. A miss decodes as before.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable
from typing import Any

import h2.utilities
import hpack.hpack
from h2.exceptions import ProtocolError
from hpack.huffman_table import decode_huffman as _slow_decode

MEMO_ENTRIES = 2048
MEMO_MAX_BYTES = 4096
_BAD_NAME = re.compile(rb"[\x00-\x20A-Z\x7f-\xff]")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_WHITESPACE = (0x20, 0x09)
_memo: dict[bytes, bytes] = {}


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


def decode_huffman(data: bytes | bytearray | memoryview | None) -> bytes:
    if not data:
        return b""
    key = bytes(data)
    out = _memo.get(key)
    if out is None:
        out = _slow_decode(key)
        if len(key) <= MEMO_MAX_BYTES:
            if len(_memo) >= MEMO_ENTRIES:
                del _memo[next(iter(_memo))]
            _memo[key] = out
    return out


def install() -> None:
    """Swap both in (idempotent); the gateway's HTTP/2 modules call it at import."""
    setattr(h2.utilities, "_reject_illegal_characters", reject_illegal_characters)  # noqa: B010
    setattr(hpack.hpack, "decode_huffman", decode_huffman)  # noqa: B010
