"""Envoy HCM path normalization (istio-semantics.md §4.2). Skeleton: full version in progress."""

from __future__ import annotations

from meshgate.engine.options import PathNormalization


def strip_query(path: str) -> str:
    """The path without `?query` / `#fragment` (Envoy PathUtil::removeQueryAndFragment)."""
    for i, ch in enumerate(path):
        if ch in "?#":
            return path[:i]
    return path


def normalize_path(raw: str, mode: PathNormalization) -> str | None:
    """Normalize the raw request-target; None when Envoy would reject it."""
    if not raw.startswith("/"):
        return None
    hash_at = raw.find("#")
    return raw if hash_at < 0 else raw[:hash_at]
