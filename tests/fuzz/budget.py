"""How long the fuzzers run: a small fixed example budget in `make test`, a time budget in `make fuzz`.

`MESHGATE_FUZZ_SECONDS=N` (per fuzz target) switches to random, non-derandomized runs repeated until N
seconds have passed; unset, every target runs a derandomized handful of examples (fast, reproducible).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings

FUZZ_SECONDS = float(os.environ.get("MESHGATE_FUZZ_SECONDS") or 0)
UNIT_EXAMPLES = 60
FUZZ_EXAMPLES = 2000


def fuzz_settings(examples: int = UNIT_EXAMPLES) -> Any:
    """Hypothesis settings for a fuzz target (no deadline: no timed unit tests on a shared machine)."""
    return settings(
        max_examples=FUZZ_EXAMPLES if FUZZ_SECONDS else examples,
        deadline=None,
        derandomize=not FUZZ_SECONDS,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def run(prop: Callable[[], None]) -> None:
    """Run a @given property once, or again and again until the time budget is spent."""
    end = time.monotonic() + FUZZ_SECONDS
    prop()
    while time.monotonic() < end:
        prop()
