"""Bad input yields problems, never an exception: random text and mangled valid resources."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from meshgate.config.load import load_text

SOURCES = [p.read_text() for p in sorted((Path(__file__).parent / "data").glob("*.*"))]
SOURCES += [
    p.read_text() for p in sorted((Path(__file__).resolve().parents[2] / "examples").glob("*/*.yaml"))
]
TRICKY = [
    "a: &a [*a]\n",  # recursive alias
    "a: &x [1]\nb: [*x, *x, *x]\n",
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: [1]\n",
    "apiVersion: security.istio.io/v1\nkind: List\nitems: [null, 3, {kind: 1}]\n",
    "? [a]\n: b\n",
    "\x00",
    "[" * 200 + "]" * 200,
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SOURCES + TRICKY), st.integers(0, 4000), st.integers(0, 40), st.text(max_size=8))
def test_mangled_input_never_raises(source: str, at: int, cut: int, insert: str) -> None:
    at %= len(source) + 1
    text = source[:at] + insert + source[at + cut :]
    result = load_text(text, "fuzz.yaml")
    assert all(p.file == "fuzz.yaml" and p.line >= 1 for p in result.problems)
