"""gateway/h2/hpack_decoder.py's FastDecoder gives hpack's Decoder results and errors (RFC 7541 §6).

Each case feeds the same header blocks to a fresh hpack Decoder and a fresh FastDecoder and compares, block
by block: the fields (never-indexed ones still marked), the exception class, and the dynamic table after.
Catches a wrong prefix mask, a literal indexed when it must not be, a size update accepted where hpack
refuses it, a missing header-list limit, a truncation read past the end.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hpack import Decoder, Encoder
from hpack.exceptions import HPACKError
from hpack.struct import HeaderTuple, NeverIndexedHeaderTuple

from meshgate.gateway.h2.hpack_decoder import FastDecoder


def ingress_blocks(count: int = 300) -> list[bytes]:
    """What a client's encoder sends: churned dynamic table, never-indexed tokens, Huffman and not."""
    rng, encoder, out = random.Random(14), Encoder(), []
    for i in range(count):
        token = b"eyJ" + bytes(
            rng.choice(b"abcdefghijklmnopqrstuvwxyzABCDEF0123456789-_") for _ in range(400)
        )
        fields = [
            HeaderTuple(b":method", b"GET"), HeaderTuple(b":scheme", b"http"),
            HeaderTuple(b":authority", b"127.0.0.1:8080"),
            NeverIndexedHeaderTuple(b":path", b"/api/v1/items/%d?page=%d" % (rng.randint(1, 99999), i % 20)),
            NeverIndexedHeaderTuple(b"authorization", b"Bearer " + token),
            HeaderTuple(b"traceparent", b"00-%032x-%016x-01" % (rng.getrandbits(128), rng.getrandbits(64))),
            HeaderTuple(b"user-agent", b"client-%d/1.0" % (i % 7)), HeaderTuple(b"x-empty", b""),
        ]  # fmt: skip
        out.append(encoder.encode(fields, huffman=bool(i % 3)))
    return out


def outcome(decoder: Decoder, block: bytes) -> tuple[object, ...]:
    try:
        fields = decoder.decode(block, raw=True)
        result: object = [(bytes(f[0]), bytes(f[1]), isinstance(f, NeverIndexedHeaderTuple)) for f in fields]
    except HPACKError as exc:
        result = type(exc)
    table = decoder.header_table
    return result, list(table.dynamic_entries), table.maxsize


def compare(blocks: list[bytes], setup: Callable[[Decoder], None] = lambda d: None) -> None:
    reference, fast = Decoder(), FastDecoder()
    setup(reference)
    setup(fast)
    for i, block in enumerate(blocks):
        assert outcome(fast, block) == outcome(reference, block), f"block {i}: {block[:40]!r}"


def mutated(blocks: list[bytes]) -> list[bytes]:
    rng = random.Random(7541)
    out = []
    for block in blocks[:60]:
        data = bytearray(block)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        out.append(bytes(data))
    return out


BLOCKS = ingress_blocks()
FIRST_SIZE = sum(32 + len(k) + len(v) for k, v in Decoder().decode(BLOCKS[0], raw=True))  # RFC 7541 §4.1
CASES: list[tuple[str, list[bytes], Callable[[Decoder], None]]] = [
    ("ingress blocks, churned table", BLOCKS, lambda d: None),
    ("every prefix of a block (truncations)", [BLOCKS[0][:n] for n in range(len(BLOCKS[0]))], lambda d: None),
    ("random byte changes", mutated(BLOCKS), lambda d: None),
    ("size update first, then fields", [b"\x3f\xe1\x1f\x82", b"\x20\x82"], lambda d: None),
    ("size update after a field", [b"\x82\x20"], lambda d: None),
    ("size update above the allowed", [b"\x3f\xe2\x1f"], lambda d: None),
    ("index 0, index past the tables", [b"\x80", b"\xff\x00"], lambda d: None),
    ("integer longer than 5 octets", [b"\xff\xff\xff\xff\xff\xff\x01"], lambda d: None),
    ("header list at the limit", BLOCKS[:1], lambda d: setattr(d, "max_header_list_size", FIRST_SIZE)),
    (
        "header list 1 over the limit",
        BLOCKS[:1],
        lambda d: setattr(d, "max_header_list_size", FIRST_SIZE - 1),
    ),
    ("allowed table size shrunk", BLOCKS[:2], lambda d: setattr(d, "max_allowed_table_size", 100)),
]


@pytest.mark.parametrize("name, blocks, setup", CASES, ids=[c[0] for c in CASES])
def test_same_as_hpack(name: str, blocks: list[bytes], setup: Callable[[Decoder], None]) -> None:
    compare(blocks, setup)
