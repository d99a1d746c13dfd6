"""RE2 as meshgate runs it: Go's regexp/syntax errors for what RE2 refuses, RE2's meaning for what it accepts.

Each `MEANING` row is a place where Python's `re` given the same pattern answers differently from RE2
(golang/go src/regexp/syntax/parse.go, google/re2 re2/re2.h): the translation must give RE2's answer. The
`ERRORS` rows are Go's `error parsing regexp: <code>: `<expr>`` texts, which istiod prints.
"""

from __future__ import annotations

import re

import pytest

from meshgate.config.networking.re2 import RE2Error, compile_re2, translate
from meshgate.config.networking.rewrite import replace_all, rewrite_error

MEANING = [
    # pattern, text, RE2 full match
    ("x$\n", "x\n", False),  # RE2 `$` is the end of the text; Python's also matches before a final newline
    (r"\d+", "٣", False),  # RE2 \d is ASCII; Python's is Unicode
    (r"\w+", "é", False),
    (r"\s", "\v", False),  # RE2 \s is [\t\n\f\r ]
    (r"a{,2}", "a{,2}", True),  # `{,n}` is a literal in RE2, a repeat in Python
    (r"a{,2}", "aa", False),
    (r"(?i)k", "\u212a", True),  # case folding: KELVIN SIGN
    (r"[[:digit:]]+", "123", True),  # POSIX classes (Python has none)
    (r"[[:^alpha:]]", "1", True),
    (r"\Qa.b\E", "a.b", True),  # \Q...\E literals (Python has none)
    (r"\Qa.b\E", "axb", False),
    (r"\141", "a", True),  # octal escape
    (r"a(?i)b|c", "C", True),  # a flag lasts to the end of the group, across `|`
    (r"a(?i)b|c", "aB", True),
    (r"a(?i)b|c", "Ab", False),
    (r"(?i:a)b", "AB", False),
    (r"[^\D5]", "4", True),  # a negated class holding a negated class
    (r"[^\D5]", "5", False),
    (r"[\d-z]+", "1-z", True),
    (r"\bfoo\b", "foo", True),
    (r"(?s).", "\n", True),
    (r".", "\n", False),
    (r"(?U)a+b", "aab", True),
    (r"\x{263a}", "\u263a", True),
    (r"[]a]+", "]a", True),
    (r"^*a", "a", True),  # RE2 repeats an empty-width assertion; Python refuses `^*`
    (r"/api/v[0-9]+/.*", "/api/v2/x", True),
]


@pytest.mark.parametrize(("pattern", "text", "matches"), MEANING)
def test_full_match_means_what_re2_means(pattern: str, text: str, matches: bool) -> None:
    assert (compile_re2(pattern).fullmatch(text) is not None) is matches


ERRORS = [
    (r"(?=a)", "invalid or unsupported Perl syntax: `(?=`"),
    (r"(?!a)", "invalid or unsupported Perl syntax: `(?!`"),
    (r"(?<=a)b", "invalid named capture: `(?<=a)b`"),
    (r"(a)\1", r"invalid escape sequence: `\1`"),
    (r"(?P<n>a)(?P=n)", "invalid or unsupported Perl syntax: `(?P`"),
    (r"a**", "invalid nested repetition operator: `**`"),
    (r"a*+", "invalid nested repetition operator: `*+`"),
    (r"*a", "missing argument to repetition operator: `*`"),
    (r"(|*)", "missing argument to repetition operator: `*`"),
    (r"a{1001}", "invalid repeat count: `{1001}`"),
    (r"a{3,2}", "invalid repeat count: `{3,2}`"),
    (r"(a", "missing closing ): `(a`"),
    (r"a)", "unexpected ): `a)`"),
    (r"[a", "missing closing ]: `[a`"),
    (r"[z-a]", "invalid character class range: `z-a`"),
    (r"[[:foo:]]", "invalid character class range: `[:foo:]`"),
    (r"\Z", r"invalid escape sequence: `\Z`"),
    (r"\C", r"invalid escape sequence: `\C`"),
    ("a\\", "trailing backslash at end of expression: ``"),
    (r"(?P<1-a>x)", "invalid named capture: `(?P<1-a>`"),
]


@pytest.mark.parametrize(("pattern", "message"), ERRORS)
def test_go_refuses_what_re2_lacks(pattern: str, message: str) -> None:
    with pytest.raises(RE2Error) as caught:
        translate(pattern)
    assert str(caught.value) == f"error parsing regexp: {message}"
    assert not caught.value.meshgate_only


@pytest.mark.parametrize("pattern", [r"\pL", r"\p{Greek}+", r"[\PN]", r"\P{Lu}"])
def test_unicode_classes_are_meshgate_refusals(pattern: str) -> None:
    """Valid RE2 (Envoy runs it), but Python's re has no Unicode classes: refused as meshgate's, and said so."""
    with pytest.raises(RE2Error) as caught:
        translate(pattern)
    assert caught.value.meshgate_only and "meshgate" in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "text", "rewrite", "result"),
    [
        ("a*", "baaac", "X", "XbXcX"),  # no empty match where the previous one ended (Python: XbXXcX)
        ("^/api/(.*)$", "/api/x/y", "/v2/\\1", "/v2/x/y"),
        ("o", "foo", "0", "f00"),
        ("", "ab", "-", "-a-b-"),
        ("(a)(b)?", "ac", "[\\2\\1\\\\]", "[a\\]c"),  # a group that did not take part is empty; \\ is \
        ("x", "abc", "y", "abc"),
    ],
)
def test_regex_rewrite_is_global_replace(pattern: str, text: str, rewrite: str, result: str) -> None:
    """RE2::GlobalReplace, what Envoy's regex_rewrite runs (google/re2 re2/re2.cc)."""
    assert replace_all(compile_re2(pattern), text, rewrite) == result
    if pattern == "a*":
        assert re.sub(pattern, rewrite, text) != result  # the case Python's re.sub gets wrong


@pytest.mark.parametrize(
    ("pattern", "rewrite", "error"),
    [
        ("(a)", "\\1\\0", None),
        (
            "(a)",
            "\\2",
            "Rewrite schema requests 2 matches, but the regexp only has 1 parenthesized subexpressions.",
        ),
        ("a", "\\x", "Rewrite schema error: '\\' must be followed by a digit or '\\'."),
        ("a", "x\\", "Rewrite schema error: '\\' not allowed at end."),
    ],
)
def test_rewrite_string_is_checked_as_re2_checks_it(pattern: str, rewrite: str, error: str | None) -> None:
    assert rewrite_error(compile_re2(pattern), rewrite) == error
