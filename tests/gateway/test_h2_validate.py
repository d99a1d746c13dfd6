"""gateway/h2/validate.py accepts and refuses exactly the header blocks h2's own pipeline does.

Each row is a received block; it is checked as a request, a response and trailers, and the outcome (the same
list back, or ProtocolError) must equal h2.utilities.validate_headers' (RFC 9113 §8.2, §8.3). Catches a rule
dropped from the single pass (e.g. `te: gzip`, a pseudo-header after a regular field, Host vs :authority).
"""

from __future__ import annotations

import pytest
from h2.exceptions import ProtocolError
from h2.utilities import HeaderValidationFlags
from h2.utilities import validate_headers as reference

from meshgate.gateway.h2.validate import validate_headers

Block = list[tuple[bytes, bytes]]
REQUEST: Block = [
    (b":method", b"GET"),
    (b":scheme", b"http"),
    (b":authority", b"a.example"),
    (b":path", b"/x"),
]
RESPONSE: Block = [(b":status", b"200"), (b"content-type", b"text/plain")]
ROWS: list[tuple[str, Block]] = [
    ("plain request", [*REQUEST, (b"accept", b"*/*"), (b"te", b"trailers")]),
    ("te: TRAILERS", [*REQUEST, (b"te", b"TRAILERS")]),
    ("te: gzip", [*REQUEST, (b"te", b"gzip")]),
    ("connection", [*REQUEST, (b"connection", b"close")]),
    ("keep-alive, upgrade, transfer-encoding", [*REQUEST, (b"upgrade", b"h2c")]),
    ("upper-case name", [*REQUEST, (b"Accept", b"*/*")]),
    ("space in name", [*REQUEST, (b"a b", b"1")]),
    ("colon inside name", [*REQUEST, (b"a:b", b"1")]),
    ("empty name", [*REQUEST, (b"", b"1")]),
    ("NUL in value", [*REQUEST, (b"x", b"a\x00b")]),
    ("LF in value", [*REQUEST, (b"x", b"a\nb")]),
    ("leading space in value", [*REQUEST, (b"x", b" a")]),
    ("trailing tab in value", [*REQUEST, (b"x", b"a\t")]),
    ("empty value", [*REQUEST, (b"x", b"")]),
    ("non-ASCII value", [*REQUEST, (b"x", b"caf\xc3\xa9")]),
    ("duplicate :path", [*REQUEST, (b":path", b"/y")]),
    ("pseudo after regular", [*REQUEST[:2], (b"accept", b"*/*"), *REQUEST[2:]]),
    ("unknown pseudo", [*REQUEST, (b":foo", b"1")]),
    ("no :path", REQUEST[:3]),
    ("no :method", REQUEST[1:]),
    ("empty :path", [*REQUEST[:3], (b":path", b"")]),
    (":status in a request", [(b":status", b"200"), *REQUEST]),
    ("CONNECT with :path", [(b":method", b"CONNECT"), (b":authority", b"a:443"), (b":path", b"/")]),
    ("CONNECT", [(b":method", b"CONNECT"), (b":authority", b"a:443")]),
    (":protocol without CONNECT", [*REQUEST, (b":protocol", b"websocket")]),
    ("no :authority, Host", [*REQUEST[:2], REQUEST[3], (b"host", b"a.example")]),
    ("no :authority, no Host", [*REQUEST[:2], REQUEST[3]]),
    ("Host equal to :authority", [*REQUEST, (b"host", b"a.example")]),
    ("Host differs from :authority", [*REQUEST, (b"host", b"b.example")]),
    ("two Host", [*REQUEST[:2], REQUEST[3], (b"host", b"a"), (b"host", b"a")]),
    ("response", RESPONSE),
    ("response with :path", [*RESPONSE[:1], (b":path", b"/"), *RESPONSE[1:]]),
    ("trailers", [(b"grpc-status", b"0"), (b"grpc-message", b"")]),
]
KINDS = {
    "request": HeaderValidationFlags(False, False, False, False),
    "response": HeaderValidationFlags(True, False, True, False),
    "trailers": HeaderValidationFlags(False, True, False, False),
}


def outcome(check: object, block: Block, flags: HeaderValidationFlags) -> object:
    try:
        return list(check(block, flags))  # type: ignore[operator]
    except ProtocolError:
        return ProtocolError


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name, block", ROWS, ids=[row[0] for row in ROWS])
def test_same_as_h2(name: str, block: Block, kind: str) -> None:
    flags = KINDS[kind]
    assert outcome(validate_headers, block, flags) == outcome(reference, block, flags)
