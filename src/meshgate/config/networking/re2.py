"""RE2 regular expressions (what Envoy runs for `regex` matches) checked as Go's regexp/syntax parses them
(what istiod validates with) and translated into an equivalent Python `re` pattern.

Python's `re` is not RE2: it has backreferences and lookaround, `$` also matches before a final newline,
`\\d`/`\\w`/`\\s`/`\\b` are Unicode-aware, `{,n}` repeats, `a*+` is possessive. So a pattern is parsed with
RE2's grammar (golang/go src/regexp/syntax/parse.go: Perl flags, `\\Q..\\E`, `[[:alpha:]]`, octal escapes,
`(?flags)` up to the group's end) and re-emitted with ASCII classes, `\\A`/`\\Z` anchors, per-atom flags.
Errors carry Go's text (`error parsing regexp: <code>: `<expr>``). Unicode classes (`\\p{Greek}`) are valid
RE2 Python cannot express: an RE2Error marked `meshgate_only`. Matching is Envoy's `RE2::FullMatch`
(regex_rewrite's `RE2::GlobalReplace`: routing/action.py).
"""

from __future__ import annotations

import re

MAX_REPEAT = 1000  # regexp/syntax maxRepeat... parseRepeat refuses counts above 1000
_PERL = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\x0b\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}  # fmt: skip
_C_ESCAPES = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_REPEAT = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_NAME = re.compile(r"[A-Za-z0-9_]+")
_HEX = re.compile(r"\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2})")


class RE2Error(ValueError):
    """Go's regexp.Compile error text, or (meshgate_only) a valid RE2 construct Python cannot run."""

    def __init__(self, text: str, meshgate_only: bool = False) -> None:
        super().__init__(text)
        self.meshgate_only = meshgate_only


def _err(code: str, expr: str) -> RE2Error:
    return RE2Error(f"error parsing regexp: {code}: `{expr}`")


def _ch(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0
        self.out: list[str] = []
        self.flags: frozenset[str] = frozenset()  # of "i", "m", "s", "U" (ungreedy)
        self.stack: list[frozenset[str]] = []  # the flags each open group restores when it closes
        self.repeatable = False  # the last output item is an atom a repetition may apply to
        self.last_repeat = -1  # start of the last repetition operator when it immediately precedes

    def parse(self) -> str:
        while self.pos < len(self.src):
            self._step()
        if self.stack:
            raise _err("missing closing )", self.src)
        return "".join(self.out)

    def _atom(self, text: str, assertion: bool = False) -> None:
        if "i" in self.flags and not assertion:
            text = f"(?i:{text})"
        self.out.append(f"(?:{text})" if assertion else text)
        self.repeatable, self.last_repeat = True, -1

    def _step(self) -> None:
        c, start = self.src[self.pos], self.pos
        if c in "*+?{":
            self._repeat(c, start)
            return
        self.last_repeat = -1
        self.pos += 1
        if c == "(":
            self._group(start)
        elif c == ")":
            if not self.stack:
                raise _err("unexpected )", self.src)
            self.flags = self.stack.pop()
            self.out.append(")")
            self.repeatable = True
        elif c == "|":
            self.out.append("|")
            self.repeatable = False
        elif c == "[":
            self._atom(self._class(start))
        elif c == ".":
            self._atom("(?s:.)" if "s" in self.flags else ".")
        elif c == "^":
            self._atom("(?m:^)" if "m" in self.flags else "\\A", assertion=True)
        elif c == "$":
            self._atom("(?m:$)" if "m" in self.flags else "\\Z", assertion=True)
        elif c == "\\":
            self._escape(start)
        else:
            self._atom(re.escape(c))

    def _repeat(self, c: str, start: int) -> None:
        if c == "{":
            m = _REPEAT.match(self.src, start)
            if m is None:  # not a valid repetition: `{` is a literal
                self.pos += 1
                self.last_repeat = -1
                self._atom("\\{")
                return
            lo = int(m.group(1))
            hi = lo if not m.group(2) else (int(m.group(3)) if m.group(3) else -1)
            end, op = m.end(), m.group(0)  # Python reads {n}, {n,} and {n,m} alike
            if lo > MAX_REPEAT or hi > MAX_REPEAT or lo > hi >= 0:
                raise _err("invalid repeat count", op)
        else:
            end, op = start + 1, c
        lazy = end < len(self.src) and self.src[end] == "?"
        end += lazy
        if self.last_repeat >= 0:
            raise _err("invalid nested repetition operator", self.src[self.last_repeat : end])
        if not self.repeatable:
            raise _err("missing argument to repetition operator", self.src[start:end])
        self.out.append(op + ("?" if lazy != ("U" in self.flags) else ""))
        self.pos, self.last_repeat = end, start

    def _group(self, start: int) -> None:
        rest = self.src[start:]
        if not rest.startswith("(?"):
            self._open("(")
            return
        if rest.startswith(("(?P<", "(?<")):
            begin = 4 if rest[2] == "P" else 3
            end = rest.find(">")
            if end < 0 or not _NAME.fullmatch(rest[begin:end]):
                raise _err("invalid named capture", rest if end < 0 else rest[: end + 1])
            self.pos = start + end + 1
            self._open("(")
            return
        self._flags(start)

    def _flags(self, start: int) -> None:
        flags, sign, saw, i = set(self.flags), 1, False, start + 2
        while i < len(self.src):
            c = self.src[i]
            i += 1
            if c in "imsU":
                (flags.add if sign > 0 else flags.discard)(c)
                saw = True
            elif c == "-" and sign > 0:
                sign, saw = -1, False
            elif c in ":)" and (sign > 0 or saw):
                self.pos = i
                if c == ":":
                    self._open("(?:")
                self.flags = frozenset(flags)
                return
            else:
                break
        raise _err("invalid or unsupported Perl syntax", self.src[start:i])

    def _open(self, text: str) -> None:
        self.stack.append(self.flags)
        self.out.append(text)
        self.repeatable = False

    def _escape(self, start: int) -> None:
        if self.pos >= len(self.src):
            raise _err("trailing backslash at end of expression", "")
        c = self.src[self.pos]
        simple = {"A": "\\A", "z": "\\Z", "b": "(?a:\\b)", "B": "(?a:\\B)"}
        if c in simple:
            self.pos += 1
            self._atom(simple[c], assertion=True)
        elif c == "C":
            raise _err("invalid escape sequence", "\\C")
        elif c == "Q":
            end = self.src.find("\\E", self.pos + 1)
            literal = self.src[self.pos + 1 :] if end < 0 else self.src[self.pos + 1 : end]
            self.pos = len(self.src) if end < 0 else end + 2
            for ch in literal:
                self._atom(re.escape(ch))
        elif c in "pP":
            raise _unicode_class(self.src, start)
        elif c.lower() in _PERL:
            self.pos += 1
            self._atom(f"[{'^' if c.isupper() else ''}{_PERL[c.lower()]}]")
        else:
            self._atom(_ch(self._escape_char(start)))

    def _escape_char(self, start: int) -> int:
        """parseEscape: the code point of `\\x` at `start` (self.pos is just after the backslash)."""
        c = self.src[self.pos]
        self.pos += 1
        nxt = self.src[self.pos] if self.pos < len(self.src) else ""
        if c.isascii() and not c.isalnum():
            return ord(c)
        if (c in "1234567" and nxt in "01234567" and nxt) or c == "0":
            value, digits = int(c), 1
            while digits < 3 and self.pos < len(self.src) and self.src[self.pos] in "01234567":
                value, digits, self.pos = value * 8 + int(self.src[self.pos]), digits + 1, self.pos + 1
            return value
        if c == "x":
            m = _HEX.match(self.src, self.pos)
            if m and int(m.group(1) or m.group(2), 16) <= 0x10FFFF:
                self.pos = m.end()
                return int(m.group(1) or m.group(2), 16)
            raise _err("invalid escape sequence", self.src[start : (m.end() if m else self.pos + 1)])
        if c in _C_ESCAPES:
            return _C_ESCAPES[c]
        raise _err("invalid escape sequence", self.src[start : self.pos])

    def _class(self, start: int) -> str:
        """A `[...]` class at `start` (self.pos after `[`) → a Python class, or a union when it holds negations."""
        negate = self.src[self.pos : self.pos + 1] == "^"
        self.pos += negate
        items: list[str] = []
        negated: list[str] = []
        first = True
        while True:
            if self.pos >= len(self.src):
                raise _err("missing closing ]", self.src[start:])
            c = self.src[self.pos]
            if c == "]" and not first:
                self.pos += 1
                break
            first = False
            if self._class_named(items, negated, start):
                continue
            range_start = self.pos
            lo = self._class_char(start)
            hi = lo
            after = self.src[self.pos + 1 : self.pos + 2]
            if self.src[self.pos : self.pos + 1] == "-" and after not in ("]", ""):  # `[a-]` is `a` or `-`
                self.pos += 1
                hi = self._class_char(start)
                if hi < lo:
                    raise _err("invalid character class range", self.src[range_start : self.pos])
            items.append(_ch(lo) if lo == hi else f"{_ch(lo)}-{_ch(hi)}")
        return _union("".join(items), negated, negate)

    def _class_named(self, items: list[str], negated: list[str], start: int) -> bool:
        """`[:alpha:]`, `[:^alpha:]`, `\\d`-style escapes and `\\p` inside a class."""
        text = self.src[self.pos :]
        if text.startswith("[:"):
            end = text.find(":]")
            if end >= 0:
                name = text[2:end]
                bare = name.lstrip("^")
                if bare not in _POSIX:
                    raise _err("invalid character class range", text[: end + 2])
                (negated if name.startswith("^") else items).append(_POSIX[bare])
                self.pos += end + 2
                return True
        if text[:1] == "\\" and text[1:2] in ("p", "P"):
            raise _unicode_class(self.src, self.pos)
        if text[:1] == "\\" and text[1:2].lower() in _PERL and text[1:2]:
            (negated if text[1].isupper() else items).append(_PERL[text[1].lower()])
            self.pos += 2
            return True
        return False

    def _class_char(self, start: int) -> int:
        if self.pos >= len(self.src):
            raise _err("missing closing ]", self.src[start:])
        c = self.src[self.pos]
        if c != "\\":
            self.pos += 1
            return ord(c)
        if self.pos + 1 >= len(self.src):
            raise _err("missing closing ]", self.src[start:])
        self.pos += 1
        return self._escape_char(self.pos - 1)


def _union(positive: str, negated: list[str], negate: bool) -> str:
    if not negated:
        return f"[{'^' if negate else ''}{positive}]"
    parts = ([f"[{positive}]"] if positive else []) + [f"[^{n}]" for n in negated]
    either = "|".join(parts)
    return f"(?:(?!{either})[\\x00-\\U0010ffff])" if negate else f"(?:{either})"


def _unicode_class(src: str, at: int) -> RE2Error:
    end = src.find("}", at) + 1 if src[at + 2 : at + 3] == "{" else at + 3
    why = "RE2 Unicode classes are valid for Envoy, but meshgate matches with Python's re, which has none"
    return RE2Error(f"`{src[at : end or len(src)]}`: {why}; spell the characters out", meshgate_only=True)


def translate(pattern: str) -> str:
    """The Python pattern equivalent to RE2 `pattern`; RE2Error when Go's regexp (or meshgate) refuses it."""
    python = _Parser(pattern).parse()
    try:
        re.compile(python)
    except re.error as exc:  # a construct RE2 accepts and the translation cannot express
        raise RE2Error(f"meshgate cannot run this RE2 expression with Python's re: {exc}", True) from exc
    return python


def compile_re2(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern))
