"""meshgate's path refusals (docs/security.md "Paths"): `normalize_path` = path_guard around Envoy's normalization.

Each row: the raw request-target and what authorization and the upstream see in NONE, BASE,
MERGE_SLASHES and DECODE_AND_MERGE_SLASHES (None = 400). Where Envoy 1.40 forwards something else the
row's id says so (observed answers in test_pathnorm.py).
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from meshgate.engine import path_guard
from meshgate.engine.options import PathNormalization
from meshgate.engine.pathnorm import normalize_path, path_rejection

NONE = PathNormalization.NONE
BASE = PathNormalization.BASE
MERGE = PathNormalization.MERGE_SLASHES
DECODE = PathNormalization.DECODE_AND_MERGE_SLASHES
MODES = (NONE, BASE, MERGE, DECODE)

SAFE = [
    # unchanged from Envoy
    pytest.param("/a/b?x=1", ("/a/b?x=1",) * 4, id="plain"),
    pytest.param("/a?x=%2F..;#", (None,) * 4, id="fragment-even-in-query"),
    pytest.param("/a?x=%2F..;/b", ("/a?x=%2F..;/b",) * 4, id="query-is-not-the-path"),
    pytest.param("/caf%C3%A9", ("/caf%C3%A9",) * 4, id="utf8-escapes-kept"),
    pytest.param("/100%25", ("/100%25",) * 4, id="escaped-percent-alone"),
    pytest.param("/a\x00", (None,) * 4, id="raw-nul-codec"),
    # Envoy strips the fragment (CVE-2021-39156 fix, Istio runtime override): meshgate refuses it
    pytest.param("/user/profile#section1", (None,) * 4, id="fragment-CVE-2021-39156"),
    pytest.param("/admin#", (None,) * 4, id="empty-fragment"),
    # Envoy forwards %00 in NONE mode and in the query
    pytest.param("/a%00b", (None,) * 4, id="nul-path"),
    pytest.param("/a?x=%00", (None,) * 4, id="nul-query"),
    # path parameters: Envoy strips `..;x`/`.;x` segments (CVE-2026-73551) and forwards other `;`
    pytest.param("/a;jsessionid=1/b", (None,) * 4, id="path-parameter"),
    pytest.param("/public/..;/admin", (None,) * 4, id="dotdot-parameter-CVE-2026-73551"),
    pytest.param("/admin;x", (None,) * 4, id="parameter-on-denied-path"),
    pytest.param("/public/..%3B/admin", (None,) * 4, id="encoded-parameter"),
    # invalid escapes: Envoy keeps `%` as is
    pytest.param("/a%zzb", (None,) * 4, id="invalid-escape"),
    pytest.param("/a%2", (None,) * 4, id="truncated-escape"),
    pytest.param("/a%", (None,) * 4, id="bare-percent"),
    pytest.param("/%2%41", (None,) * 4, id="nested-escape"),
    # double and overlong encodings Envoy keeps and an upstream may decode
    pytest.param("/public/%252e%252e/admin", (None,) * 4, id="double-encoded-dots"),
    pytest.param("/%2541dmin", (None,) * 4, id="double-encoded-letter"),
    pytest.param("/public/%25%32%65%25%32%65/admin", (None,) * 4, id="double-encoding-made-by-decoding"),
    pytest.param("/%25%41%41", (None,) * 4, id="double-encoding-made-by-decoding-fuzz"),
    pytest.param("/public/%c0%ae%c0%ae/admin", (None,) * 4, id="overlong-utf8-dots"),
    pytest.param("/%c0%af", (None,) * 4, id="overlong-utf8-slash"),
    pytest.param("/%ff", (None,) * 4, id="not-utf8"),
    # encoded slashes (CVE-2021-31920): Envoy keeps them unless DECODE
    pytest.param("/admin%2Fx", (None, None, None, "/admin/x"), id="encoded-slash"),
    pytest.param("/public%2F..%2Fadmin", (None, None, None, "/admin"), id="encoded-slash-climb"),
    pytest.param("/a%5cb", (None, None, None, "/a/b"), id="encoded-backslash"),
    pytest.param("/a%5C..%5Cadmin", (None, None, None, "/admin"), id="encoded-backslash-climb"),
    # empty segments an upstream merges (CVE-2021-31920): Envoy forwards `//` in NONE and BASE
    pytest.param("//admin", (None, None, "/admin", "/admin"), id="double-slash"),
    pytest.param("/a//b?x=//y", (None, None, "/a/b?x=//y", "/a/b?x=//y"), id="double-slash-query-ok"),
    pytest.param("/\\admin", (None, None, "/admin", "/admin"), id="backslash-makes-double-slash"),
    pytest.param("///../a", (None, None, "/a", "/a"), id="slashes-then-dots"),
    # NONE rewrites nothing, so nothing an upstream would rewrite passes (CVE-2019-9901)
    pytest.param("/public/../admin", (None, "/admin", "/admin", "/admin"), id="dotdot-CVE-2019-9901"),
    pytest.param("/public/%2e%2e/admin", (None, "/admin", "/admin", "/admin"), id="encoded-dotdot"),
    pytest.param("/public/.%2E/admin", (None, "/admin", "/admin", "/admin"), id="mixed-dotdot"),
    pytest.param("/a/./b", (None, "/a/b", "/a/b", "/a/b"), id="dot"),
    pytest.param("/a/..", (None, "/", "/", "/"), id="trailing-dotdot"),
    pytest.param("/public\\..\\admin", (None, "/admin", "/admin", "/admin"), id="backslash-dotdot"),
    pytest.param("/a\\b", (None, "/a/b", "/a/b", "/a/b"), id="backslash"),
    pytest.param("/a/...", ("/a/...",) * 4, id="three-dots-is-a-name"),
    pytest.param("/a/.b/..c", ("/a/.b/..c",) * 4, id="dotted-names"),
]


@pytest.mark.parametrize(("raw", "expected"), SAFE)
def test_normalize_path_safe_answers(raw: str, expected: tuple[str | None, ...]) -> None:
    assert tuple(normalize_path(raw, mode) for mode in MODES) == expected


# `..` never climbs from an allowed prefix into a denied one: the path authorization sees is the path
# forwarded, and it holds nothing an upstream could still turn into a dot segment, however it decodes.
CLIMBS = [
    "/public/../admin",
    "/public/%2e%2e/admin",
    "/public/%2E%2E/admin",
    "/public/.%2e/admin",
    "/public/%2e./admin",
    "/public/%252e%252e/admin",
    "/public/%25252e%25252e/admin",
    "/public/..%2fadmin",
    "/public/..%5cadmin",
    "/public/%2e%2e%2fadmin",
    "/public\\..\\admin",
    "/public/..\\admin",
    "/public/%c0%ae%c0%ae/admin",
    "/public/%e0%80%ae%e0%80%ae/admin",
    "/public/..;/admin",
    "/public/..;x=1/admin",
    "/public/%2e%2e;/admin",
    "/public//..//admin",
    "/public/./../admin",
    "/public/%2e/%2e%2e/admin",
    "/public/..%00/admin",
    "/public/..#/admin",
    "/public/%2e%2e%3b/admin",
    "/public/%25%32%65%25%32%65/admin",
]
_OVERLONG_DOT = re.compile(r"%(?:c0%ae|e0%80%ae)", re.IGNORECASE)


def _upstream_could_climb(path: str) -> bool:
    """A lenient upstream: decodes %XX repeatedly (and overlong dots), `\\` is `/`, `;...` is dropped."""
    text = path.split("?")[0]
    for _ in range(4):
        text = urllib.parse.unquote(_OVERLONG_DOT.sub(".", text), encoding="latin-1")
    segments = [segment.split(";")[0] for segment in text.replace("\\", "/").split("/")]
    return any(segment in (".", "..") for segment in segments)


@pytest.mark.parametrize("raw", CLIMBS)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_dotdot_never_climbs_unseen(raw: str, mode: PathNormalization) -> None:
    got = normalize_path(raw, mode)
    assert got is None or not _upstream_could_climb(got), got
    assert got is None or mode is not NONE  # NONE forwards as is, so every climb is refused


@pytest.mark.parametrize(
    ("raw", "mode", "reason"),
    [
        ("/a#b", BASE, path_guard.FRAGMENT),
        ("/a%00", BASE, path_guard.NUL),
        ("/a;b", BASE, path_guard.PATH_PARAMETER),
        ("/a%zz", BASE, path_guard.BAD_ESCAPE),
        ("/a%2541", BASE, path_guard.DOUBLE_ESCAPE),
        ("/a%2F", BASE, path_guard.ENCODED_SLASH),
        ("/a%c0%ae", BASE, path_guard.NOT_UTF8),
        ("//a", BASE, path_guard.EMPTY_SEGMENT),
        ("/a\\b", NONE, path_guard.BACKSLASH),
        ("/a/../b", NONE, path_guard.DOT_SEGMENT),
        ("a/b", BASE, "Envoy's path normalization fails (not origin-form, a byte the codec rejects, or %00)"),
    ],
)
def test_rejection_reason_for_the_trace(raw: str, mode: PathNormalization, reason: str) -> None:
    assert normalize_path(raw, mode) is None
    assert path_rejection(raw, mode) == reason
