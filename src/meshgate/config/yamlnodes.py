"""YAML/JSON text → a tree of values that remember their line, so every problem can say `file:line`.

PyYAML's node API (`compose_all`, C loader when available) keeps a mark on every key and item;
plain `safe_load` would lose them. Scalars are resolved with YAML 1.1 safe rules, as PyYAML (and
Kubernetes' YAML 1.1 decoder) do. Syntax errors become a `SyntaxProblem`, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # the libyaml-backed loader is much faster; fall back to pure Python if it is not compiled in
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"})


@dataclass(frozen=True, slots=True)
class YScalar:
    value: str | int | float | bool | None
    line: int


@dataclass(frozen=True, slots=True)
class YEntry:
    key: str
    key_line: int
    value: YNode


@dataclass(frozen=True, slots=True)
class YMap:
    entries: tuple[YEntry, ...]
    line: int
    duplicates: tuple[YEntry, ...] = field(default=())  # repeated keys (strict decoders refuse them)
    bad_keys: tuple[int, ...] = field(default=())  # lines of keys that are not strings

    def get(self, key: str) -> YEntry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None


@dataclass(frozen=True, slots=True)
class YSeq:
    items: tuple[YNode, ...]
    line: int


YNode = YScalar | YMap | YSeq


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    line: int
    message: str


def type_name(node: YNode) -> str:
    """The JSON type name Kubernetes uses in its messages (`string`, `array`, `object`...)."""
    if isinstance(node, YMap):
        return "object"
    if isinstance(node, YSeq):
        return "array"
    v = node.value
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return "string"


def _scalar(node: yaml.ScalarNode) -> YScalar:
    line = node.start_mark.line + 1
    if node.tag in _STR_TAGS:
        return YScalar(str(node.value), line)
    try:
        value = _CONSTRUCTOR.construct_object(node, deep=True)
    except yaml.YAMLError:
        return YScalar(str(node.value), line)
    if value is None or isinstance(value, str | int | float | bool):
        return YScalar(value, line)
    return YScalar(str(node.value), line)


def convert(node: yaml.Node, depth: int = 0, memo: dict[int, YNode] | None = None) -> YNode:
    """PyYAML node → YNode. An alias is the same node object, converted once (no alias-bomb blowup)."""
    memo = {} if memo is None else memo
    done = memo.get(id(node))
    if done is not None:
        return done
    line = node.start_mark.line + 1
    if depth > 100:
        return YScalar(None, line)
    result: YNode
    if isinstance(node, yaml.ScalarNode):
        result = _scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        result = YSeq(tuple(convert(item, depth + 1, memo) for item in node.value), line)
    elif isinstance(node, yaml.MappingNode):
        result = _mapping(node, depth, memo)
    else:  # pragma: no cover - PyYAML composes only these three node kinds
        result = YScalar(None, line)
    memo[id(node)] = result
    return result


def _mapping(node: yaml.MappingNode, depth: int, memo: dict[int, YNode]) -> YMap:
    line = node.start_mark.line + 1
    entries: list[YEntry] = []
    dups: list[YEntry] = []
    bad: list[int] = []
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
        if key is None or not isinstance(key.value, str):
            bad.append(key_node.start_mark.line + 1)
            continue
        entry = YEntry(key.value, key.line, convert(value_node, depth + 1, memo))
        (dups if key.value in seen else entries).append(entry)
        seen.add(key.value)
    return YMap(tuple(entries), line, tuple(dups), tuple(bad))


def _detab_json(text: str) -> str:
    """YAML forbids tabs as indentation; JSON allows them between tokens. Swap those for spaces."""
    out: list[str] = []
    in_str = escaped = False
    for ch in text:
        if in_str:
            escaped = not escaped and ch == "\\"
            in_str = escaped or ch != '"'
            out.append(ch)
            continue
        in_str = ch == '"'
        out.append(" " if ch == "\t" else ch)
    return "".join(out)


def _syntax_problem(exc: yaml.YAMLError) -> SyntaxProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context else str(problem)
    return SyntaxProblem(line, f"malformed YAML/JSON: {text}")


def compose_documents(text: str) -> Iterator[YNode | SyntaxProblem]:
    """Every document of a (multi-document) stream, in order; a syntax error ends the stream."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\t" in text and text.lstrip()[:1] in ("{", "["):
        text = _detab_json(text)
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is not None:
                yield convert(node)
    except yaml.YAMLError as exc:
        yield _syntax_problem(exc)
    except (ValueError, RecursionError) as exc:  # e.g. unpaired surrogates, absurd nesting
        yield SyntaxProblem(1, f"malformed YAML/JSON: {exc}")
