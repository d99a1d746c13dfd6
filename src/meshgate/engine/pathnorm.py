"""Envoy HCM path normalization as Istio configures it (docs/istio-semantics.md §7), made safe.

`normalize_path` is what the engine (and so every front) uses: meshgate's refusals (path_guard.py,
docs/security.md "Paths") around `envoy_normalize_path`, which reproduces Envoy 1.40 exactly as below.

Order (envoyproxy/envoy:source/common/http/conn_manager_utility.cc maybeNormalizePath):
fragment → escaped slashes (DECODE_AND_MERGE_SLASHES) → `normalize_path` (dot-segment parameters,
then Chromium path canonicalization) → `merge_slashes`. Path helpers follow
source/common/http/path_utility.cc.

Observed on the real Envoy 1.40 (listener per mode, upstream echoing the request-target, Istio's
runtime `envoy.reloadable_features.http_reject_path_with_fragment: false` from
istio/istio:pkg/bootstrap/config.go):
- `%XX` of unreserved characters IS decoded (every `%00`-`%FF`, both hex cases, was tried): exactly
  `0-9 A-Z a-z - . _ ~`; every other valid escape is kept with its original hex case; `%00` → 400
  (`path_normalization_failed`); an invalid escape (`%zz`, `%2`, `%`) leaves `%` as is. The §4.2
  UNCONFIRMED point is settled: Envoy 1.40 still decodes `%41` to `A`.
- Raw `" < > ^ ` { | }` are escaped with upper-case hex; `\\` becomes `/`.
- `..;x` / `.;x` segments become `..` / `.` before canonicalization (CVE-2026-73551, present in 1.40);
  `%2e%2e;x` is not stripped; in NONE mode nothing is.
- `#fragment` is stripped in every mode, NONE included (without Istio's runtime override Envoy 1.40
  answers 400 instead).
- A request-target not starting with `/` (`a/b`, `*`) and raw space, control or non-ASCII bytes are
  rejected by Envoy's HTTP/1 codec with 400 (`http1.invalid_url` / `http1.codec_error` /
  `http1.invalid_characters`) in every mode: we answer None for them too (the 404 `AbsolutePath`
  reply of conn_manager_impl.cc is only reachable over HTTP/2, which meshgate does not serve).
- `merge_slashes` keeps a leading and a trailing `/`, so `//` stays `//` (DECODE: `/%2F` → `//`).
"""

from __future__ import annotations

import re

from meshgate.engine import path_guard
from meshgate.engine.options import PathNormalization

_HEX = frozenset("0123456789abcdefABCDEF")
# Chromium's legacy kPathCharLookup UNESCAPE class (the only escapes Envoy 1.40 decodes, observed).
_UNRESERVED = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._~")
# Printable characters Chromium percent-encodes in a path (observed); space, `#` and controls
# never get here (the codec rejects them, the fragment is cut).
_MUST_ESCAPE = frozenset('"<>^`{|} ')
# Anything the canonicalizer may change; a path without it is already canonical (fast path).
_CANON_WORK = re.compile(r'[%\\"<>^`{|} ]|/\.')
# A target every mode leaves as it is, when it holds no `//` or `/.` either: `/`, then visible ASCII but
# `%` (escapes), `#` (fragment), `;` (path_guard), `\` and the characters Chromium escapes.
_CANONICAL_TARGET = re.compile(r"/[!$&-:=?-\[\]_a-z~]*")
_ESCAPED_SLASH = re.compile(r"%(?:2[fF]|5[cC])")
# Bytes Envoy's HTTP/1 codec accepts in a request-target: visible ASCII only.
_BAD_TARGET_CHAR = re.compile(r"[^\x21-\x7e]")


def strip_query(path: str) -> str:
    """The path without `?query` / `#fragment` (Envoy PathUtil::removeQueryAndFragment)."""
    query, fragment = path.find("?"), path.find("#")
    if fragment < 0:
        return path if query < 0 else path[:query]
    return path[: fragment if query < 0 else min(query, fragment)]


def normalize_path(raw: str, mode: PathNormalization) -> str | None:
    """The one path authorization and the upstream see; None = answer 400 (Envoy's or meshgate's)."""
    if _CANONICAL_TARGET.fullmatch(raw) and "//" not in raw and "/." not in raw:
        return raw  # visible ASCII, nothing to decode, escape, merge or refuse: every mode keeps it
    return guarded_normalize_path(raw, mode)


def guarded_normalize_path(raw: str, mode: PathNormalization) -> str | None:
    """normalize_path without its fast path (tests/engine/test_pathnorm.py pins the two equal)."""
    if not ("%" in raw or "#" in raw or ";" in raw or "\\" in raw or "//" in raw or "/." in raw):
        return envoy_normalize_path(raw, mode)  # path_guard.suspect inlined: nothing it could refuse
    if path_guard.before(raw, mode) is not None:
        return None
    path = envoy_normalize_path(raw, mode)
    if path is None or path_guard.after(path, mode) is not None:
        return None
    return path


def path_rejection(raw: str, mode: PathNormalization) -> str:
    """Why `normalize_path` answered None, for the decision trace."""
    reason = path_guard.before(raw, mode)
    if reason is not None:
        return reason
    path = envoy_normalize_path(raw, mode)
    if path is None:
        return "Envoy's path normalization fails (not origin-form, a byte the codec rejects, or %00)"
    return path_guard.after(path, mode) or "accepted"


def envoy_normalize_path(raw: str, mode: PathNormalization) -> str | None:
    """Normalize the raw request-target (path and query) as Envoy 1.40 does; None where it answers 400."""
    if not raw.startswith("/") or _BAD_TARGET_CHAR.search(raw):
        return None
    hash_at = raw.find("#")
    target = raw if hash_at < 0 else raw[:hash_at]
    if mode is PathNormalization.NONE:
        return target
    q_at = target.find("?")
    path, query = (target, "") if q_at < 0 else (target[:q_at], target[q_at:])
    if mode is PathNormalization.DECODE_AND_MERGE_SLASHES and "%" in path:
        path = _ESCAPED_SLASH.sub(_unescape_slash, path)
    if _CANON_WORK.search(path):
        canonical = _canonicalize(_strip_dot_segment_parameters(path))
        if canonical is None:
            return None
        path = canonical
    if mode is not PathNormalization.BASE:
        path = merge_slashes(path)
    return path + query


def _unescape_slash(match: re.Match[str]) -> str:
    return "/" if match.group(0)[1] == "2" else "\\"


def merge_slashes(path: str) -> str:
    """Envoy PathUtil::mergeSlashes on a path without query: keeps one leading / trailing `/`."""
    if "//" not in path:
        return path
    prefix = "/" if path.startswith("/") else ""
    suffix = "/" if path.endswith("/") else ""
    return prefix + "/".join(s for s in path.split("/") if s) + suffix


def _strip_dot_segment_parameters(path: str) -> str:
    """Envoy PathUtil::stripParametersFromDotSegments: `..;p` → `..`, `.;p` → `.` (split on `/` only)."""
    if ".;" not in path:
        return path
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if segment.startswith("..;"):
            segments[i] = ".."
        elif segment.startswith(".;"):
            segments[i] = "."
    return "/".join(segments)


def _dot_len(path: str, i: int) -> int:
    """Chromium IsDot: 1 for `.`, 3 for `%2e`/`%2E`, else 0."""
    if path.startswith(".", i):
        return 1
    if path.startswith("%2", i) and path[i + 2 : i + 3] in ("e", "E"):
        return 3
    return 0


def _after_dot(path: str, j: int) -> tuple[int, int]:
    """Chromium ClassifyAfterDot: (0 not a directory | 1 current | 2 parent, characters consumed)."""
    if j == len(path):
        return 1, 0
    if path[j] in "/\\":
        return 1, 1
    second = _dot_len(path, j)
    if second:
        k = j + second
        if k == len(path):
            return 2, second
        if path[k] in "/\\":
            return 2, second + 1
    return 0, 0


def _back_up(out: list[str]) -> None:
    """Chromium BackUpToPreviousSlash: drop the last segment, never the leading `/`."""
    if len(out) == 1:
        return
    j = len(out) - 2
    while j > 0 and out[j] != "/":
        j -= 1
    del out[j + 1 :]


def _canonicalize(path: str) -> str | None:
    """Chromium url::CanonicalizePath (DoPartialPath, legacy unescape table) on a path starting with `/`."""
    out: list[str] = []  # one character per item
    last_bad_percent = -10  # output index of a `%` that began no valid escape
    i, n = 0, len(path)
    while i < n:
        ch = path[i]
        if ch == "/" or ch == "\\":
            out.append("/")
            i += 1
            continue
        dots = _dot_len(path, i)
        if dots:
            kind, consumed = _after_dot(path, i + dots) if out and out[-1] == "/" else (0, 0)
            if kind == 0:
                out.append(".")
            elif kind == 2:
                _back_up(out)
            i += dots + consumed
            continue
        if ch == "%":
            if i + 2 < n and path[i + 1] in _HEX and path[i + 2] in _HEX:
                decoded = chr(int(path[i + 1 : i + 3], 16))
                if decoded == "\x00":
                    return None
                i += 3
                if decoded in _UNRESERVED:
                    out.append(decoded)
                    if last_bad_percent >= len(out) - 3:
                        _fix_nested_escape(path, i, last_bad_percent, out)
                else:
                    out.extend(path[i - 3 : i])
                continue
            last_bad_percent = len(out)
            out.append("%")
        elif ch in _MUST_ESCAPE:
            out.extend(f"%{ord(ch):02X}")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _fix_nested_escape(path: str, next_i: int, percent: int, out: list[str]) -> None:
    """Chromium CheckForNestedEscapes: `%2%41` must not turn into the escape `%2A`; write `%25` instead."""
    length = len(out)
    unescaped = out[-1]
    append_next = percent == length - 2
    if append_next:
        if next_i == len(path):
            return
        out.append(path[next_i])
    if percent + 3 <= len(out) and out[percent + 1] in _HEX and out[percent + 2] in _HEX:
        if not append_next:
            out.append(out[percent + 1])
        out[percent + 1] = "2"
        out[percent + 2] = "5"
        out.append(unescaped)
    elif append_next:
        del out[length:]
