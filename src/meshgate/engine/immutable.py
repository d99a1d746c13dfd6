"""`@value`: an immutable record for the type checker, a plain slots dataclass at run time.

Engine results are values (design.md): nothing may assign to their fields, and mypy --strict enforces
that through `frozen_default` (PEP 681). At run time a frozen dataclass pays an `object.__setattr__` per
field on every construction (~1 µs for a Decision), and the hot path builds several per fresh token, so
the run-time class is left unfrozen; equality and hashing stay field-based as with `frozen=True`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def immutable(cls: type[T]) -> type[T]:
    made: Any = dataclasses.dataclass(slots=True, unsafe_hash=True)(cls)
    return made  # type: ignore[no-any-return]
