"""gateway/h2/huffman.py decodes exactly as hpack's own decoder (hpack/huffman_table.py, RFC 7541 §5.2).

Every string of one and two bytes, a sample of longer random ones, and the encodings of real header values
(tokens, traceparents, paths) must give hpack's bytes or hpack's HPACKDecodingError. Catches a wrong
composed transition, a missing emit, and a padding or EOS rule that accepts what hpack refuses.
"""

from __future__ import annotations

import random

import pytest
from hpack.exceptions import HPACKDecodingError
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman as reference

from meshgate.gateway.h2 import huffman

ENCODER = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


def outcome(decode: object, data: bytes) -> bytes | str:
    try:
        return decode(data)  # type: ignore[operator, no-any-return]
    except HPACKDecodingError:
        return "error"


def short_strings() -> list[bytes]:
    return [bytes([a]) for a in range(256)] + [bytes([a, b]) for a in range(256) for b in range(256)]


def random_strings() -> list[bytes]:
    rng = random.Random(7541)
    return [rng.randbytes(rng.randint(3, 12)) for _ in range(5000)]


@pytest.mark.parametrize(
    "name, strings",
    [("every 1- and 2-byte string", short_strings()), ("random 3-12 byte strings", random_strings())],
)
def test_same_outcome_as_hpack(name: str, strings: list[bytes]) -> None:
    mismatches = [s for s in strings if outcome(huffman.decode, s) != outcome(reference, s)]
    assert not mismatches, f"{name}: {len(mismatches)} differ, first {mismatches[:3]}"


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IkRIRmJwb0lVcXJZOHQyenBBMnFYZkNtcjVWTzVaRXI0UnpIVV8tZW52dlEifQ.x_-",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        b"/api/v1/items/12345?page=7&access_token=abc.def-ghi_jkl",
        bytes(range(256)),  # every symbol, the 30-bit codes among them
    ],
)
def test_round_trip(value: bytes) -> None:
    encoded = ENCODER.encode(value)
    assert huffman.decode(encoded) == value == reference(encoded)
    assert huffman.decode_remembered(encoded) == value  # first sight: decoded
    assert huffman.decode_remembered(encoded) == value  # second: decoded and remembered
    assert huffman.decode_remembered(encoded) == value  # third: from the memo


def test_eos_in_string_is_refused() -> None:
    """EOS (30 one-bits) inside a string is a decoding error (RFC 7541 §5.2), even when padding follows."""
    data = bytes([0xFF, 0xFF, 0xFF, 0xFF])  # EOS + 2 one-bits
    assert outcome(reference, data) == "error"
    with pytest.raises(HPACKDecodingError):
        huffman.decode(data)


def test_memo_admits_on_second_sight() -> None:
    """A string seen once is not remembered (fresh values must not push out the repeated ones)."""
    encoded = ENCODER.encode(b"user-agent-%d" % random.Random().getrandbits(64))
    huffman.decode_remembered(encoded)
    assert encoded not in huffman._memo
    huffman.decode_remembered(encoded)
    assert encoded in huffman._memo
