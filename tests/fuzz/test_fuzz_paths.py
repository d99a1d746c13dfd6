"""Fuzz the path normalizer: None or one safe, stable path — never an exception (docs/security.md "Paths")."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings, run

from meshgate.engine.options import PathNormalization
from meshgate.engine.pathnorm import envoy_normalize_path, normalize_path

PIECES = st.sampled_from(
    ["/", "//", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "\\", ";", "%3b", "#", "?", "%", "%25", "%00",
     "%c0%ae", "%41", "a", "admin", "~", "-", "_", "%zz", "%2", "&", "=", '"', "{", "|", " ", "\t", "é"]
)  # fmt: skip
TARGETS = st.one_of(
    st.lists(PIECES, max_size=14).map(lambda parts: "/" + "".join(parts)),
    st.text(max_size=40),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(lambda t: "/" + t),
)
MODES = st.sampled_from(list(PathNormalization))
_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")


@fuzz_settings(400)
@given(TARGETS, MODES)
def _normalize(raw: str, mode: PathNormalization) -> None:
    got = normalize_path(raw, mode)
    envoy = envoy_normalize_path(raw, mode)
    if got is None:
        return
    assert got == envoy  # meshgate only ever refuses; it never rewrites differently from Envoy
    path = got.split("?")[0]
    assert got.startswith("/") and "#" not in got
    assert ";" not in path and "%00" not in got.lower()
    assert not re.search(r"%(?![0-9A-Fa-f]{2})|%25[0-9A-Fa-f]{2}|%2[fF]|%5[cC]|%3[bB]", path)
    assert not _DOT_SEGMENT.search(path.replace("%2e", ".").replace("%2E", "."))
    assert "\\" not in path and ("//" not in path or path == "//")
    assert normalize_path(got, mode) == got  # stable: normalizing again changes nothing


def test_normalize_path_never_raises_and_is_safe() -> None:
    run(_normalize)
