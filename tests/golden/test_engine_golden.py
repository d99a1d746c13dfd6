"""The golden table through the engine directly (the reference every other front must equal)."""

from __future__ import annotations

import pytest
from tests.golden.cases import CASES, GoldenCase
from tests.golden.harness import expected, observe_engine


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_engine_answers_like_envoy(case: GoldenCase) -> None:
    assert observe_engine(case) == expected(case)
