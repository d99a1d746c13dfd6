"""tune_for_serving: loaded objects leave the collector's walks, collections get rarer, cycles still die."""

from __future__ import annotations

import gc
import weakref

from meshgate.fronts.gc_tuning import SERVING_THRESHOLDS, tune_for_serving


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_tuning_freezes_what_is_loaded_and_still_collects_cycles() -> None:
    before = gc.get_threshold()
    try:
        tune_for_serving()
        assert gc.get_threshold() == SERVING_THRESHOLDS
        assert gc.get_freeze_count() > 0
        a, b = Node(), Node()
        a.other, b.other = b, a
        probe = weakref.ref(a)
        del a, b
        gc.collect()
        assert probe() is None  # a cycle made after freezing is still garbage
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
