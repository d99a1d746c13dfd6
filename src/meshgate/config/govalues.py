"""Go standard-library parsers istiod's validation calls, reproduced with their exact error texts.

istiod validates with Go's `net/netip`, `strconv` and `time`; its messages embed those errors verbatim
(e.g. `bad CIDR range (10.0.0.0/33): netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`).
Sources: golang/go src/net/netip/netip.go (ParseAddr, ParsePrefix), src/strconv (Quote, ParseUint,
ParseBool), src/time/format.go (ParseDuration). Every function returns a value or an error string;
none raises.
"""

from __future__ import annotations

import re

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """strconv.Quote: a double-quoted Go string literal (what `%q` prints)."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() and ch != "\x7f":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _addr_error(text: str, msg: str, at: str = "") -> str:
    if at:
        return f"ParseAddr({go_quote(text)}): {msg} (at {go_quote(at)})"
    return f"ParseAddr({go_quote(text)}): {msg}"


def _ipv4_fields(text: str, s: str) -> tuple[int, str | None]:
    """parseIPv4Fields over `s` (a slice of `text`); returns (field count, error)."""
    val = pos = dig = 0
    for i, ch in enumerate(s):
        if "0" <= ch <= "9":
            if dig == 1 and val == 0:
                return 0, _addr_error(text, "IPv4 field has octet with leading zero")
            val = val * 10 + ord(ch) - 48
            dig += 1
            if val > 255:
                return 0, _addr_error(text, "IPv4 field has value >255")
        elif ch == ".":
            if i == 0 or i == len(s) - 1 or s[i - 1] == ".":
                return 0, _addr_error(text, "IPv4 field must have at least one digit", s[i:])
            if pos == 3:
                return 0, _addr_error(text, "IPv4 address too long")
            pos += 1
            val = dig = 0
        else:
            return 0, _addr_error(text, "unexpected character", s[i:])
    if pos < 3:
        return 0, _addr_error(text, "IPv4 address too short")
    return 4, None


def _ipv6(text: str) -> tuple[bool, str | None]:
    """parseIPv6; returns (has_zone, error)."""
    s, zone = text, ""
    if "%" in s:
        s, zone = s.split("%", 1)
        if not zone:
            return False, _addr_error(text, "zone must be a non-empty string")
    ellipsis = -1
    if s.startswith("::"):
        ellipsis, s = 0, s[2:]
        if not s:
            return bool(zone), None
    i = 0
    while i < 16:
        off, acc = 0, 0
        while off < len(s) and s[off] in "0123456789abcdefABCDEF":
            acc = acc * 16 + int(s[off], 16)
            if off > 3:
                return False, _addr_error(text, "each group must have 4 or less digits", s)
            if acc > 0xFFFF:
                return False, _addr_error(text, "IPv6 field has value >=2^16", s)
            off += 1
        if off == 0:
            return False, _addr_error(text, "each colon-separated field must have at least one digit", s)
        if off < len(s) and s[off] == ".":
            if ellipsis < 0 and i != 12:
                msg = "embedded IPv4 address must replace the final 2 fields of the address"
                return False, _addr_error(text, msg, s)
            if i + 4 > 16:
                msg = "too many hex fields to fit an embedded IPv4 at the end of the address"
                return False, _addr_error(text, msg, s)
            _, err = _ipv4_fields(text, s)
            if err:
                return False, err
            s, i = "", i + 4
            break
        i += 2
        s = s[off:]
        if not s:
            break
        if s[0] != ":":
            return False, _addr_error(text, "unexpected character, want colon", s)
        if len(s) == 1:
            return False, _addr_error(text, "colon must be followed by more characters", s)
        s = s[1:]
        if s[0] == ":":
            if ellipsis >= 0:
                return False, _addr_error(text, "multiple :: in address", s)
            ellipsis, s = i, s[1:]
            if not s:
                break
    if s:
        return False, _addr_error(text, "trailing garbage after address", s)
    if i < 16 and ellipsis < 0:
        return False, _addr_error(text, "address string too short")
    if i >= 16 and ellipsis >= 0:
        return False, _addr_error(text, "the :: must expand to at least one field of zeros")
    return bool(zone), None


def parse_addr(text: str) -> tuple[int, bool, str | None]:
    """netip.ParseAddr: returns (bit length 32/128, has IPv6 zone, error)."""
    for ch in text:
        if ch == ".":
            _, err = _ipv4_fields(text, text)
            return 32, False, err
        if ch == ":":
            zoned, err = _ipv6(text)
            return 128, zoned, err
        if ch == "%":
            return 0, False, _addr_error(text, "missing IPv6 address")
    return 0, False, _addr_error(text, "unable to parse IP")


def parse_prefix_error(text: str) -> str | None:
    """netip.ParsePrefix's error text, or None when `text` is a valid CIDR."""
    head = f"netip.ParsePrefix({go_quote(text)}): "
    i = text.rfind("/")
    if i < 0:
        return head + "no '/'"
    bits_len, zoned, err = parse_addr(text[:i])
    if err:
        return head + err
    if zoned:
        return head + "IPv6 zones cannot be present in a prefix"
    bits = text[i + 1 :]
    bad = head + "bad bits after slash: " + go_quote(bits)
    # strconv.Atoi would take a sign or leading zeroes; netip refuses both.
    if len(bits) > 1 and not ("1" <= bits[0] <= "9"):
        return bad
    if not bits or not all("0" <= c <= "9" for c in bits) or int(bits) > _MAX_NS:
        return bad
    if int(bits) > bits_len:
        return head + "prefix length out of range"
    return None


def parse_uint_error(text: str, bit_size: int = 32) -> str | None:
    """strconv.ParseUint(text, 10, bit_size)'s error text, or None when it parses."""
    if not text or not all("0" <= c <= "9" for c in text):
        return f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax"
    if int(text) >= 1 << bit_size:
        return f"strconv.ParseUint: parsing {go_quote(text)}: value out of range"
    return None


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(text: str) -> bool | None:
    """strconv.ParseBool; None when the text is not one of Go's spellings."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def parse_bool_error(text: str) -> str:
    return f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax"


_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9}
_UNIT_NS["h"] = 3600 * 10**9
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]+)")
_MAX_NS = (1 << 63) - 1


def parse_duration_ns(text: str) -> int | None:
    """time.ParseDuration in nanoseconds (`5s`, `1.5s`, `300ms`, `1m30s`); None when invalid."""
    s, sign = text, 1
    if s[:1] in ("+", "-"):
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    if not s:
        return None
    total, pos = 0, 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            return None
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if (not whole and not frac) or unit not in _UNIT_NS:
            return None
        scale = _UNIT_NS[unit]
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        pos = m.end()
    if total > _MAX_NS:
        return None
    return sign * total
