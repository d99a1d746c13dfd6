"""Go standard-library parsers whose error texts istiod embeds in its messages.

Sources: golang/go src/net/netip/netip.go (ParseAddr, ParsePrefix, parseAddrError), src/strconv
(Quote, ParseUint, ParseBool), src/time/format.go (ParseDuration).
"""

from __future__ import annotations

import pytest

from meshgate.config.govalues import (
    go_quote,
    parse_addr,
    parse_bool,
    parse_duration_ns,
    parse_prefix_error,
    parse_uint_error,
)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("10.0.0.0/8", None, id="v4-ok"),
        pytest.param("2001:db8::/32", None, id="v6-ok"),
        pytest.param("::ffff:1.2.3.4/128", None, id="v4-in-v6-ok"),
        pytest.param(
            "10.0.0.0/33", 'netip.ParsePrefix("10.0.0.0/33"): prefix length out of range', id="v4-bits"
        ),
        pytest.param("::/129", 'netip.ParsePrefix("::/129"): prefix length out of range', id="v6-bits"),
        pytest.param(
            "10.0.0.0/08", 'netip.ParsePrefix("10.0.0.0/08"): bad bits after slash: "08"', id="lead-0"
        ),
        pytest.param(
            "10.0.0.0/+8", 'netip.ParsePrefix("10.0.0.0/+8"): bad bits after slash: "+8"', id="sign"
        ),
        pytest.param("10.0.0.0/", 'netip.ParsePrefix("10.0.0.0/"): bad bits after slash: ""', id="no-bits"),
        pytest.param(
            "10.0.0/8",
            'netip.ParsePrefix("10.0.0/8"): ParseAddr("10.0.0"): IPv4 address too short',
            id="short-v4",
        ),
        pytest.param(
            "10.0.0.256/8",
            'netip.ParsePrefix("10.0.0.256/8"): ParseAddr("10.0.0.256"): IPv4 field has value >255',
            id="octet-range",
        ),
        pytest.param(
            "01.0.0.0/8",
            'netip.ParsePrefix("01.0.0.0/8"): ParseAddr("01.0.0.0"): IPv4 field has octet with leading zero',
            id="octet-leading-zero",
        ),
        pytest.param(
            "fe80::1%eth0/64",
            'netip.ParsePrefix("fe80::1%eth0/64"): IPv6 zones cannot be present in a prefix',
            id="zone",
        ),
        pytest.param(
            "foo/8", 'netip.ParsePrefix("foo/8"): ParseAddr("foo"): unable to parse IP', id="not-an-ip"
        ),
        pytest.param(
            "1::2::3/64",
            'netip.ParsePrefix("1::2::3/64"): ParseAddr("1::2::3"): multiple :: in address (at ":3")',
            id="double-ellipsis",
        ),
    ],
)
def test_parse_prefix_error_matches_netip(text: str, error: str | None) -> None:
    assert parse_prefix_error(text) == error


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1.2.3.4", True),
        ("::1", True),
        ("1:2:3:4:5:6:7:8", True),
        ("1.2.3", False),
        ("1:2", False),
        ("", False),
    ],
)
def test_parse_addr(text: str, ok: bool) -> None:
    assert (parse_addr(text)[2] is None) is ok


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("8080", None),
        ("0", None),
        ("-1", 'strconv.ParseUint: parsing "-1": invalid syntax'),
        ("", 'strconv.ParseUint: parsing "": invalid syntax'),
        ("4294967296", 'strconv.ParseUint: parsing "4294967296": value out of range'),
    ],
)
def test_parse_uint_error(text: str, error: str | None) -> None:
    assert parse_uint_error(text, 32) == error


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("t", True),
        ("TRUE", True),
        ("True", True),
        ("0", False),
        ("F", False),
        ("False", False),
        ("yes", None),
        ("tRUE", None),
        ("", None),
    ],
)
def test_parse_bool_is_go_strconv(text: str, value: bool | None) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("5s", 5 * 10**9),
        ("1.5s", 1_500_000_000),
        ("300ms", 300_000_000),
        ("1m", 60 * 10**9),
        ("1h2m3s", 3723 * 10**9),
        ("0", 0),
        ("-2s", -2 * 10**9),
        ("5", None),
        ("s", None),
        ("", None),
        ("5 s", None),
        ("5d", None),
    ],
)
def test_parse_duration_is_go_time(text: str, ns: int | None) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize(
    ("text", "quoted"),
    [("a=b", '"a=b"'), ('x"y', '"x\\"y"'), ("tab\t", '"tab\\t"'), ("\x01", '"\\x01"'), ("é", '"é"')],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted
