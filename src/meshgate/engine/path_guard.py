"""Request-targets meshgate refuses with 400 where Envoy would normalize and forward them.

The rule (docs/security.md "Paths"): authorization and the upstream must read one and the same path.
Envoy forwards targets that its RBAC matches one way and an upstream may read another way — a fragment
(CVE-2021-39156), `;` path parameters (Tomcat/Spring, Envoy CVE-2026-73511/73551), encoded `/` `\\`
kept as is (CVE-2021-31920), double or overlong encodings of `.` and `/`, `//` that an upstream merges,
and in NONE mode any dot segment (CVE-2019-9901). meshgate answers 400 for those instead:
- `before(raw, mode)` checks the raw target (every mode): `#`, `%00`, and in the path part `;` or `%3B`,
  an invalid `%` escape, `%25XX` (also once unreserved escapes are decoded), escapes that do not decode
  to UTF-8 (overlong `%c0%ae`), and `%2F` / `%5C` unless the mode decodes them;
- `after(path, mode)` checks Envoy's result: `//` left in the path (NONE, BASE), and in NONE mode
  (which rewrites nothing) a `\\` or a `.`/`..` segment in any spelling.
Each returns the reason (for the decision trace), or None. A target with none of `# % ; \\ //` or `/.`
(`suspect`) costs a few substring tests.
"""

from __future__ import annotations

import re

from meshgate.engine.options import PathNormalization

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_DOUBLE_ESCAPE = re.compile(r"%25[0-9A-Fa-f]{2}")
_ENCODED_SLASH = re.compile(r"%(?:2[fF]|5[cC])")
_ENCODED_SEMICOLON = re.compile(r"%3[bB]")
_ENCODED_DOT = re.compile(r"%2[eE]")
_DOT_SEGMENTS = frozenset({".", ".."})
_UNRESERVED = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._~")

FRAGMENT = "a fragment (#) in the request-target"
NUL = "%00 (NUL) in the request-target"
PATH_PARAMETER = "a path parameter (; or %3B)"
BAD_ESCAPE = "an invalid % escape"
DOUBLE_ESCAPE = "a double-encoded escape (%25XX)"
ENCODED_SLASH = "an encoded / or \\ (%2F, %5C) the path normalization mode keeps"
NOT_UTF8 = "escapes that do not decode to UTF-8 (e.g. overlong %c0%ae)"
EMPTY_SEGMENT = "an empty path segment (//) the path normalization mode keeps"
BACKSLASH = "a backslash in the path (NONE mode rewrites nothing)"
DOT_SEGMENT = "a . or .. segment (NONE mode rewrites nothing)"


def _path_part(target: str) -> str:
    q = target.find("?")
    return target if q < 0 else target[:q]


def _unreserved(match: re.Match[str]) -> str:
    """An escape as Envoy's normalization leaves it: unreserved characters decoded, the rest kept."""
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group(0)


def _decodes_to_utf8(path: str) -> bool:
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), path)
    try:
        raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return False
    return True


def suspect(raw: str) -> bool:
    """False for a target neither check can refuse: Envoy's normalization cannot make `//` or a dot
    segment out of a path without `% \\ // /.`, and `# ;` are refused only when present."""
    return "%" in raw or "#" in raw or ";" in raw or "\\" in raw or "//" in raw or "/." in raw


def before(raw: str, mode: PathNormalization) -> str | None:
    """Why the raw request-target is refused before normalization, or None."""
    if not suspect(raw):
        return None
    if "#" in raw:
        return FRAGMENT
    if "%00" in raw:
        return NUL
    path = _path_part(raw)
    if ";" in path:
        return PATH_PARAMETER
    if "%" in path:
        if _BAD_ESCAPE.search(path):
            return BAD_ESCAPE
        if "%25" in path and _DOUBLE_ESCAPE.search(_ESCAPE.sub(_unreserved, path)):
            return DOUBLE_ESCAPE  # also `%25%32%65`, which decodes to `%252e` (found by tests/fuzz)
        if _ENCODED_SEMICOLON.search(path):
            return PATH_PARAMETER
        if mode is not PathNormalization.DECODE_AND_MERGE_SLASHES and _ENCODED_SLASH.search(path):
            return ENCODED_SLASH
        if not _decodes_to_utf8(path):
            return NOT_UTF8
    return None


def after(normalized: str, mode: PathNormalization) -> str | None:
    """Why Envoy's normalized target is still refused, or None."""
    if mode is PathNormalization.MERGE_SLASHES or mode is PathNormalization.DECODE_AND_MERGE_SLASHES:
        return None
    if "//" in normalized and "//" in _path_part(normalized):
        return EMPTY_SEGMENT
    if mode is PathNormalization.NONE:
        path = _path_part(normalized)
        if "\\" in path:
            return BACKSLASH
        if "/." in path or "%" in path:
            segments = _ENCODED_DOT.sub(".", path).split("/")
            if any(segment in _DOT_SEGMENTS for segment in segments):
                return DOT_SEGMENT
    return None
