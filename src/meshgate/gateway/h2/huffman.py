"""HPACK Huffman decoding (RFC 7541 §5.2, Appendix B) a byte per step, for hpack's decoder.

hpack's decoder walks a 4-bit state machine (nghttp2's), two table lookups, two flag tests and up to two
appends per input byte. Composing two of its nibble steps gives a byte step: a table indexed by (state,
byte) whose entry is the next state and the 0-2 bytes that byte completes — one lookup and one append per
input byte, about 3.5× faster. A string ends well only in a state hpack marks complete (the padding is a
prefix of EOS shorter than 8 bits); a failing nibble (EOS decoded) leads to a sink state that never
completes, so every outcome is hpack's: same bytes, or HPACKDecodingError (tests/gateway/test_h2_huffman.py
compares both on every short string). The table is built at import: 65,792 entries, ~4.5 MiB a process.

Clients resend the same Huffman-coded strings (a client's token in `authorization`, its user-agent), so a
decoded string is remembered by its exact encoded bytes — once it has been seen twice: fresh strings (a
traceparent, a varied path) would otherwise push the repeated ones out. At most
MEMO_ENTRIES strings of at most MEMO_MAX_BYTES encoded bytes each (with their decodings, ≤ 21 MiB a process
in the worst case), the oldest dropped first.
"""

from __future__ import annotations

from collections import OrderedDict

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_table import HUFFMAN_COMPLETE, HUFFMAN_EMIT_SYMBOL, HUFFMAN_FAIL, HUFFMAN_TABLE

MEMO_ENTRIES = 2048
MEMO_MAX_BYTES = 4096
SEEN_ENTRIES = 8192  # hashes of strings decoded once: the admission list of the memo
_SINK = 256  # after a failing nibble: every byte stays here


def _build() -> tuple[list[tuple[int, bytes]], frozenset[int]]:
    """(byte-step table indexed by state << 8 | byte, the states a string may end in), states pre-shifted."""
    shifted = [state << 8 for state in range(257)]  # shared int objects, as the outputs below: ~3 MiB
    outputs: dict[bytes, bytes] = {}
    fail = (shifted[_SINK], b"")
    table: list[tuple[int, bytes]] = []
    complete = {0}
    singles = [bytes([i]) for i in range(256)]
    for state in range(257):
        for byte in range(256):
            if state == _SINK:
                table.append(fail)
                continue
            mid, flags1, out1 = HUFFMAN_TABLE[state * 16 + (byte >> 4)]
            if flags1 & HUFFMAN_FAIL:
                table.append(fail)
                continue
            end, flags2, out2 = HUFFMAN_TABLE[mid * 16 + (byte & 0x0F)]
            if flags2 & HUFFMAN_FAIL:
                table.append(fail)
                continue
            out = (singles[out1] if flags1 & HUFFMAN_EMIT_SYMBOL else b"") + (
                singles[out2] if flags2 & HUFFMAN_EMIT_SYMBOL else b""
            )
            if flags2 & HUFFMAN_COMPLETE:
                complete.add(end)
            table.append((shifted[end], outputs.setdefault(out, out)))
    return table, frozenset(state << 8 for state in complete)


_TABLE, _COMPLETE = _build()
_memo: OrderedDict[bytes, bytes] = OrderedDict()  # FIFO: popitem(last=False) is O(1), a dict's is not
_seen: OrderedDict[int, None] = OrderedDict()


def decode(data: bytes | bytearray | memoryview) -> bytes:
    """Huffman-decode `data`; HPACKDecodingError as hpack raises it (EOS, or padding that is not)."""
    state = 0
    parts: list[bytes] = []
    append = parts.append
    table = _TABLE
    for byte in data:
        state, out = table[state | byte]
        append(out)
    if state not in _COMPLETE:
        raise HPACKDecodingError(
            "Invalid Huffman string" if state == _SINK << 8 else "Incomplete Huffman string"
        )
    return b"".join(parts)


def decode_remembered(data: bytes | bytearray | memoryview | None) -> bytes:
    """`decode` with the memo: hpack.hpack.decode_huffman's stand-in (speedups.install)."""
    if not data:
        return b""
    key = bytes(data)
    out = _memo.get(key)
    if out is not None:
        return out
    out = decode(key)
    if len(key) <= MEMO_MAX_BYTES:
        digest = hash(key)
        if digest in _seen:
            if len(_memo) >= MEMO_ENTRIES:
                _memo.popitem(last=False)
            _memo[key] = out
        else:
            if len(_seen) >= SEEN_ENTRIES:
                _seen.popitem(last=False)
            _seen[digest] = None
    return out
