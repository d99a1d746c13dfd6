"""Garbage-collector settings for a serving process (`serve`, `authz-server`).

Request handling frees its objects by reference counting; the cyclic collector only finds the rare cycle
(an exception's traceback, a cancelled task). With CPython's default thresholds (700, 10, 10) it instead
runs every few requests and, under never-repeating tokens, keeps re-walking the token caches' thousands of
long-lived entries (what that costs: docs/performance.md). Everything loaded before
serving (modules, the compiled configuration) is frozen out of the collector's view, and collections are
made rarer; cyclic garbage is still collected, only in larger batches. Frozen objects are never collected,
so a reload (the old configuration becomes garbage) unfreezes, collects and freezes the new one.
"""

from __future__ import annotations

import gc

SERVING_THRESHOLDS = (20_000, 50, 100)


class _Tuning:
    applied = False  # only a process that froze its heap refreezes it after a reload


def tune_for_serving() -> None:
    """Call once, just before the event loop starts serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
    _Tuning.applied = True


def refreeze_after_reload() -> None:
    """The replaced configuration's cycles become collectable; what is alive now is frozen again."""
    if not _Tuning.applied:
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()
