"""The field schema of the two Istio kinds and a strict decoder over line-tracking YAML nodes.

Decoding follows jsonpb as `istioctl validate` uses it (ApplyJSONStrict): both the JSON (camelCase)
and proto (snake_case) names are accepted, unknown fields and wrong types are errors, `null` means
"unset". Field lists: istio/api security/v1beta1/request_authentication.proto,
authorization_policy.proto, type/v1beta1/selector.proto.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from meshgate.config.yamlnodes import YMap, YNode, YScalar, YSeq, type_name

STRING = "string"
BOOL = "boolean"
STRLIST = "strlist"
STRMAP = "strmap"

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Message:
    """A proto message: its name (for messages) and JSON field name → kind."""

    name: str
    fields: Mapping[str, FieldKind]

    def lookup(self, key: str) -> str | None:
        """The canonical JSON name for `key` given as JSON or proto name."""
        if key in self.fields:
            return key
        for json_name in self.fields:
            if _snake(json_name) == key:
                return json_name
        return None


@dataclass(frozen=True, slots=True)
class Repeated:
    item: Message


class FieldCodec:
    """A field kind defined outside this module (the networking kinds, config/networking/codecs.py): it decodes itself
    with the Decoder's reporting and line bookkeeping."""

    def decode(self, decoder: Decoder, node: YNode, path: Path) -> Any:
        raise NotImplementedError


FieldKind = str | Message | Repeated | FieldCodec


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


SELECTOR = Message("WorkloadSelector", {"matchLabels": STRMAP})
TARGET_REF = Message(
    "PolicyTargetReference", {"group": STRING, "kind": STRING, "name": STRING, "namespace": STRING}
)
JWT_HEADER = Message("JWTHeader", {"name": STRING, "prefix": STRING})
CLAIM_TO_HEADER = Message("ClaimToHeader", {"header": STRING, "claim": STRING})
JWT_RULE = Message(
    "JWTRule",
    {
        "issuer": STRING,
        "audiences": STRLIST,
        "jwksUri": STRING,
        "jwks": STRING,
        "fromHeaders": Repeated(JWT_HEADER),
        "fromParams": STRLIST,
        "fromCookies": STRLIST,
        "outputPayloadToHeader": STRING,
        "forwardOriginalToken": BOOL,
        "outputClaimToHeaders": Repeated(CLAIM_TO_HEADER),
        "timeout": STRING,
        "spaceDelimitedClaims": STRLIST,
    },
)
REQUEST_AUTHENTICATION = Message(
    "RequestAuthentication",
    {
        "selector": SELECTOR,
        "targetRef": TARGET_REF,
        "targetRefs": Repeated(TARGET_REF),
        "jwtRules": Repeated(JWT_RULE),
    },
)
SOURCE_FIELDS = (
    "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces",
    "notNamespaces", "serviceAccounts", "notServiceAccounts", "ipBlocks", "notIpBlocks",
    "remoteIpBlocks", "notRemoteIpBlocks", "trustDomains", "notTrustDomains",
)  # fmt: skip
OPERATION_FIELDS = ("hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths")
SOURCE = Message("Source", {name: STRLIST for name in SOURCE_FIELDS})
OPERATION = Message("Operation", {name: STRLIST for name in OPERATION_FIELDS})
CONDITION = Message("Condition", {"key": STRING, "values": STRLIST, "notValues": STRLIST})
RULE = Message(
    "Rule",
    {
        "from": Repeated(Message("Rule.From", {"source": SOURCE})),
        "to": Repeated(Message("Rule.To", {"operation": OPERATION})),
        "when": Repeated(CONDITION),
    },
)
AUTHORIZATION_POLICY = Message(
    "AuthorizationPolicy",
    {
        "selector": SELECTOR,
        "targetRef": TARGET_REF,
        "targetRefs": Repeated(TARGET_REF),
        "rules": Repeated(RULE),
        "action": STRING,
        "provider": Message("ExtensionProvider", {"name": STRING}),
    },
)


def format_path(path: Path) -> str:
    """("spec", "jwtRules", 0, "issuer") → `spec.jwtRules[0].issuer`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


Report = Callable[[Path, str], None]


class Decoder:
    """Decodes nodes against a Message, recording each field's line under its canonical path."""

    def __init__(self, report: Report, lines: dict[Path, int]) -> None:
        self._report = report
        self.lines = lines

    def _type_error(self, path: Path, expected: str, node: YNode) -> None:
        self._report(
            path, f"invalid type for {format_path(path)}: expected {expected}, got {type_name(node)}"
        )

    def type_error(self, path: Path, expected: str, node: YNode) -> None:
        """For FieldCodecs: `invalid type for <path>: expected <expected>, got <type>`."""
        self._type_error(path, expected, node)

    def report(self, path: Path, message: str) -> None:
        """For FieldCodecs: a schema problem at `path` (the field counts as refused)."""
        self._report(path, message)

    def message(self, node: YNode, msg: Message, path: Path) -> dict[str, Any] | None:
        """A mapping → {json name: value}; None for null or a wrong type (reported)."""
        self.lines.setdefault(path, node.line)
        if isinstance(node, YScalar) and node.value is None:
            return None
        if not isinstance(node, YMap):
            self._type_error(path, "object", node)
            return None
        self.check_keys(node, path)
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for entry in node.entries:
            name = msg.lookup(entry.key)
            if name is None:
                self.lines[(*path, entry.key)] = entry.key_line
                self._report((*path, entry.key), f'unknown field "{entry.key}" in {msg.name}')
                continue
            sub = (*path, name)
            if name in seen:  # `jwksUri` and `jwks_uri` both given
                self.lines[(*path, entry.key)] = entry.key_line
                self._report((*path, entry.key), f'duplicate field "{entry.key}" in {msg.name}')
                continue
            seen.add(name)
            self.lines[sub] = entry.key_line
            value = self.value(entry.value, msg.fields[name], sub)
            if value is not None:
                out[name] = value
        return out

    def check_keys(self, node: YMap, path: Path) -> None:
        for dup in node.duplicates:
            self.lines.setdefault((*path, dup.key), dup.key_line)
            self._report((*path, dup.key), f'duplicate field "{dup.key}"')
        for line in node.bad_keys:
            self.lines.setdefault((*path, "<key>"), line)
            self._report((*path, "<key>"), f"field names must be strings in {format_path(path)}")

    def value(self, node: YNode, kind: FieldKind, path: Path) -> Any:
        if isinstance(node, YScalar) and node.value is None:
            return None
        if isinstance(kind, Message):
            return self.message(node, kind, path)
        if isinstance(kind, FieldCodec):
            return kind.decode(self, node, path)
        if isinstance(kind, Repeated):
            if not isinstance(node, YSeq):
                self._type_error(path, "array", node)
                return None
            items: list[dict[str, Any] | None] = []
            for i, item in enumerate(node.items):
                self.lines[(*path, i)] = item.line
                items.append(self.message(item, kind.item, (*path, i)))
            return items
        if kind == STRLIST:
            return self.strings(node, path)
        if kind == STRMAP:
            return self.string_map(node, path)
        return self.scalar(node, kind, path)

    def scalar(self, node: YNode, kind: str, path: Path) -> str | bool | None:
        if isinstance(node, YScalar):
            if kind == STRING and isinstance(node.value, str):
                return node.value
            if kind == BOOL and isinstance(node.value, bool):
                return node.value
        self._type_error(path, kind, node)
        return _as_text(node) if kind == STRING else None

    def strings(self, node: YNode, path: Path) -> list[str] | None:
        if not isinstance(node, YSeq):
            self._type_error(path, "array", node)
            return None
        out: list[str] = []
        for i, item in enumerate(node.items):
            self.lines[(*path, i)] = item.line
            if not (isinstance(item, YScalar) and isinstance(item.value, str)):
                self._type_error((*path, i), STRING, item)
            text = _as_text(item)
            if text is not None:
                out.append(text)
        return out

    def string_map(self, node: YNode, path: Path) -> dict[str, str] | None:
        if not isinstance(node, YMap):
            self._type_error(path, "object", node)
            return None
        self.check_keys(node, path)
        out: dict[str, str] = {}
        for entry in node.entries:
            sub = (*path, entry.key)
            self.lines[sub] = entry.key_line
            if not (isinstance(entry.value, YScalar) and isinstance(entry.value.value, str)):
                self._type_error(sub, STRING, entry.value)
            text = _as_text(entry.value)
            if text is not None:
                out[entry.key] = text
        return out


def _as_text(node: YNode) -> str | None:
    """A mistyped scalar (`8080` for `"8080"`) still validates as its text, so one typo is one problem."""
    if isinstance(node, YScalar) and node.value is not None:
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return node.value if isinstance(node.value, str) else str(node.value)
    return None
