"""The request headers as authorization sees them: after jwt_authn's edits, never the client's copies.

In Envoy the jwt_authn filter runs before RBAC and edits the request: it deletes every provider's output
headers (extractor.cc sanitizeHeaders, even without a token or on a CORS preflight), removes a verified
token's header unless `forward`, and adds the payload/claim headers. RBAC's `request.headers[...]` then
reads the edited map. `HeaderEdits` is that edit, computed once per (memoized) authentication result;
`EditedHeaders` is an O(1)-to-build overlay of it on the raw headers (docs/security.md "Output headers").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

Headers = Mapping[str, tuple[str, ...]]


@dataclass(slots=True)
class HeaderEdits:
    """Names hidden from the raw request, and the values jwt_authn added (lower-case names)."""

    hidden: frozenset[str]
    added: Mapping[str, tuple[str, ...]]


_NOTHING_ADDED: Mapping[str, tuple[str, ...]] = MappingProxyType({})


def header_edits(remove: Sequence[str], added: Sequence[tuple[str, str]]) -> HeaderEdits | None:
    """The edit of UpstreamEdits(remove, set) as a view; None when it changes nothing."""
    if not added:
        return HeaderEdits(frozenset(remove), _NOTHING_ADDED) if remove else None
    grouped: dict[str, list[str]] = {}
    for name, value in added:
        grouped.setdefault(name, []).append(value)
    hidden = frozenset(remove) | frozenset(grouped)
    return HeaderEdits(hidden, {name: tuple(values) for name, values in grouped.items()})


class EditedHeaders(Mapping[str, tuple[str, ...]]):
    """`raw` with `edits` applied, read-only; lookups cost one or two dict probes."""

    __slots__ = ("_added", "_hidden", "_raw")

    def __init__(self, raw: Headers, edits: HeaderEdits) -> None:
        self._raw = raw
        self._hidden = edits.hidden
        self._added = edits.added

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        if key in self._hidden:
            return self._added.get(key, default)
        return self._raw.get(key, default)

    def __getitem__(self, key: str) -> tuple[str, ...]:
        if key in self._hidden:
            return self._added[key]
        return self._raw[key]

    def __iter__(self) -> Iterator[str]:
        yield from (name for name in self._raw if name not in self._hidden)
        yield from self._added

    def __len__(self) -> int:
        return sum(1 for _ in self)


def edited(raw: Headers, edits: HeaderEdits | None) -> Headers:
    return raw if edits is None else EditedHeaders(raw, edits)
