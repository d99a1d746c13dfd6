"""tune_for_serving: loaded objects leave the collector's walks, collections get rarer, cycles still die."""

from __future__ import annotations

import gc
import weakref

from meshgate.server.gc_tuning import SERVING_THRESHOLDS, _Tuning, refreeze_after_reload, tune_for_serving


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
        _Tuning.applied = False


def test_a_reload_lets_the_replaced_configurations_cycles_be_collected() -> None:
    before = gc.get_threshold()
    try:
        old_config = Node()
        old_config.other = Node()
        old_config.other.other = old_config  # a cycle: only the collector can free it
        probe = weakref.ref(old_config)
        tune_for_serving()  # frozen while in force
        del old_config  # replaced by a reload
        gc.collect()
        assert probe() is not None  # frozen objects are never collected ...
        refreeze_after_reload()
        assert probe() is None  # ... until the reload unfreezes them
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        _Tuning.applied = False


def test_refreeze_does_nothing_in_an_untuned_process() -> None:
    _Tuning.applied = False
    refreeze_after_reload()
    assert gc.get_freeze_count() == 0
