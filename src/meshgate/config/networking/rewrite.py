"""RE2's rewrite strings, as VirtualService `regexRewrite` uses them: checked at load time, applied per route.

Source: google/re2 re2/re2.cc (GlobalReplace, Rewrite, CheckRewriteString): `\\N` names group N, `\\\\` is a
backslash, nothing else may follow a backslash; every non-overlapping match is replaced.
"""

from __future__ import annotations

import re


def replace_all(regex: re.Pattern[str], text: str, rewrite: str) -> str:
    """RE2::GlobalReplace: every non-overlapping match replaced; an empty match where the previous match ended
    is skipped, one character copied (Python's re.sub would replace it). `\\N` names a group, `\\\\` is `\\`."""
    out: list[str] = []
    pos, last_end = 0, -1
    while pos <= len(text):
        m = regex.search(text, pos)
        if m is None:
            break
        out.append(text[pos : m.start()])
        if m.start() == m.end() == last_end:
            out.append(text[pos : pos + 1])
            pos += 1
            continue
        out.append(_expand(m, rewrite))
        pos = last_end = m.end()
    out.append(text[pos:])
    return "".join(out)


def _expand(m: re.Match[str], rewrite: str) -> str:
    out, i = [], 0
    while i < len(rewrite):
        c = rewrite[i]
        if c == "\\" and i + 1 < len(rewrite):
            nxt = rewrite[i + 1]
            out.append(nxt if nxt == "\\" else (m.group(int(nxt)) or "") if nxt.isdigit() else "\\" + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def rewrite_error(regex: re.Pattern[str], rewrite: str) -> str | None:
    """RE2::CheckRewriteString: every `\\N` must name a group of `regex`, and `\\` escapes only digits or `\\`."""
    i = 0
    while i < len(rewrite):
        if rewrite[i] == "\\":
            nxt = rewrite[i + 1 : i + 2]
            if nxt.isdigit() and int(nxt) > regex.groups:
                has = f"the regexp only has {regex.groups} parenthesized subexpressions."
                return f"Rewrite schema requests {nxt} matches, but {has}"
            if not nxt:
                return "Rewrite schema error: '\\' not allowed at end."
            if not nxt.isdigit() and nxt != "\\":
                return "Rewrite schema error: '\\' must be followed by a digit or '\\'."
            i += 2
            continue
        i += 1
    return None
