"""h2's inbound header validation (RFC 9113 §8.2, §8.3) as one pass instead of seven chained generators.

h2 validates every received header block through a pipeline of generators (h2.utilities.validate_headers:
illegal characters, empty names, `te`, connection-specific fields, pseudo-header order and set, Host vs
`:authority`, an empty `:path`), each a Python frame per field. This function applies the same rules in one
loop and, for the pseudo-header set, calls h2's own acceptability check; any violation is a ProtocolError at
the same point of h2's reading, so the connection ends exactly as before (tests/support/h2_hostile.py rows,
tests/gateway/test_h2_validate.py against h2's pipeline). speedups.install() puts it where h2.stream calls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from h2.exceptions import ProtocolError
from h2.utilities import (
    _ALLOWED_PSEUDO_HEADER_FIELDS,
    CONNECTION_HEADERS,
    HeaderValidationFlags,
    _check_pseudo_header_field_acceptability,
)

_BAD_NAME = re.compile(rb"[\x00-\x20A-Z\x7f-\xff]")  # RFC 9113 §8.2.1
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_WHITESPACE = (0x20, 0x09)
_COLON = 0x3A


def _check_field(name: bytes, value: bytes) -> None:
    if not name:
        raise ProtocolError("Received header name with zero length.")
    if _BAD_NAME.search(name) is not None or name.find(b":", 1) != -1:
        raise ProtocolError(f"Illegal header name {name!r}")
    if value and (
        _BAD_VALUE.search(value) is not None or value[0] in _WHITESPACE or value[-1] in _WHITESPACE
    ):
        raise ProtocolError(f"Illegal header value {value!r}")


def validate_headers(headers: Iterable[Any], flags: HeaderValidationFlags) -> list[Any]:
    """The received block, unchanged, or ProtocolError for the first rule it breaks."""
    request = not flags.is_response_header and not flags.is_trailer
    bad_name, bad_value = _BAD_NAME.search, _BAD_VALUE.search
    out: list[Any] = []
    pseudo: set[bytes] = set()
    regular = False
    method = authority = host = None
    for header in headers:
        name, value = header[0], header[1]
        if not name:
            raise ProtocolError("Received header name with zero length.")
        if bad_name(name) is not None or name.find(b":", 1) != -1:
            raise ProtocolError(f"Illegal header name {name!r}")
        if value and (bad_value(value) is not None or value[0] in _WHITESPACE or value[-1] in _WHITESPACE):
            raise ProtocolError(f"Illegal header value {value!r}")
        if name[0] == _COLON:
            if name in pseudo:
                raise ProtocolError(f"Received duplicate pseudo-header field {name!r}")
            pseudo.add(name)
            if regular:
                raise ProtocolError(f"Received pseudo-header field out of sequence: {name!r}")
            if name not in _ALLOWED_PSEUDO_HEADER_FIELDS:
                raise ProtocolError(f"Received custom pseudo-header field {name!r}")
            if name == b":method":
                method = value
            elif request and name == b":authority":
                authority = value
            elif request and name == b":path" and not value:
                raise ProtocolError("An empty :path header is forbidden")
        else:
            regular = True
            if name == b"te" and value.lower() != b"trailers":
                raise ProtocolError(f"Invalid value for TE header: {value!r}")
            if name in CONNECTION_HEADERS:
                raise ProtocolError(f"Connection-specific header field present: {name!r}.")
            if request and name == b"host":
                if host is not None:
                    raise ProtocolError("Request header block has multiple Host headers.")
                host = value
        out.append(header)
    _check_pseudo_header_field_acceptability(pseudo, method, flags)
    if request:
        if authority is None and host is None:
            raise ProtocolError("Request header block does not have an :authority or Host header.")
        if authority is not None and host is not None and authority != host:
            raise ProtocolError("Request header block has mismatched :authority and Host headers")
    return out
