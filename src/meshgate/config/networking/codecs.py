"""Decoding beyond config/schema.py: the field kinds of the networking schemas, and core/v1 Secrets.

Field kinds are `FieldCodec`s the strict Decoder calls: integers with the CRD's bounds, enums, maps and lists
of any kind, messages with required fields and `oneOf` groups, base64 bytes. Problems are worded as the
Kubernetes API server words a CRD schema violation (`Required value`, `should be less than or equal to`,
`must validate one and only one schema (oneOf)`); limits: istio/api kubernetes/customresourcedefinitions.gen.yaml.

A Secret is decoded as the API server decodes one (`data` base64, `stringData` merged over it, keys
`[-._a-zA-Z0-9]+`, type `kubernetes.io/tls` requiring `tls.crt` and `tls.key`), then read as istiod reads a
credential (pilot/pkg/credentials/kube/secrets.go ExtractCertInfo: `cert`/`key` first, else `tls.crt`/`tls.key`).
Where istiod would only fail at handshake time (SDS), meshgate checks at load time that the chain and key
parse and belong together. Key bytes never appear in a message or a repr.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from meshgate.config.networking.model import TlsSecret
from meshgate.config.report import Reporter
from meshgate.config.schema import (
    BOOL,
    STRING,
    STRMAP,
    Decoder,
    FieldCodec,
    FieldKind,
    Message,
    Path,
    format_path,
)
from meshgate.config.yamlnodes import YMap, YNode, YScalar, YSeq
from meshgate.errors import SourceRef

UINT32_MAX = 2**32 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True, slots=True)
class Int(FieldCodec):
    """A JSON integer within [minimum, maximum] (uint32 by default, as the CRD declares port numbers)."""

    minimum: int = 0
    maximum: int = UINT32_MAX

    def decode(self, decoder: Decoder, node: YNode, path: Path) -> int | None:
        value = node.value if isinstance(node, YScalar) else None
        if not isinstance(value, int) or isinstance(value, bool):
            decoder.type_error(path, "integer", node)
            return None
        where = format_path(path)
        if value < self.minimum:
            decoder.report(path, f"{where} in body should be greater than or equal to {self.minimum}")
            return None
        if value > self.maximum:
            decoder.report(path, f"{where} in body should be less than or equal to {self.maximum}")
            return None
        return value


INT32 = Int(INT32_MIN, INT32_MAX)
UINT32 = Int()


@dataclass(frozen=True, slots=True)
class Number(FieldCodec):
    """A JSON number (a proto double): an integer or a float."""

    def decode(self, decoder: Decoder, node: YNode, path: Path) -> float | None:
        value = node.value if isinstance(node, YScalar) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            decoder.type_error(path, "number", node)
            return None
        return float(value)


@dataclass(frozen=True, slots=True)
class Enum(FieldCodec):
    """A proto enum, spelled as its name (the CRD declares `type: string` with an `enum`)."""

    values: tuple[str, ...]

    def decode(self, decoder: Decoder, node: YNode, path: Path) -> str | None:
        value = node.value if isinstance(node, YScalar) else None
        if not isinstance(value, str):
            decoder.type_error(path, "string", node)
            return None
        if value not in self.values:
            choices = ", ".join(self.values)
            decoder.report(
                path, f'invalid value for {format_path(path)}: "{value}" (expected one of {choices})'
            )
            return None
        return value


@dataclass(frozen=True, slots=True)
class Base64(FieldCodec):
    """A proto `bytes` field: standard base64 text (CRD `format: byte`), decoded."""

    def decode(self, decoder: Decoder, node: YNode, path: Path) -> bytes | None:
        value = node.value if isinstance(node, YScalar) else None
        if not isinstance(value, str):
            decoder.type_error(path, "string", node)
            return None
        try:
            return base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            decoder.report(path, f"{format_path(path)} in body must be of type byte: {value!r}")
            return None


@dataclass(frozen=True, slots=True)
class MapOf(FieldCodec):
    """A proto map<string, V>: each value decoded as `item` (a null value is kept as None for istiod's checks)."""

    item: FieldKind

    def decode(self, decoder: Decoder, node: YNode, path: Path) -> dict[str, Any] | None:
        if not isinstance(node, YMap):
            decoder.type_error(path, "object", node)
            return None
        decoder.check_keys(node, path)
        out: dict[str, Any] = {}
        for entry in node.entries:
            sub = (*path, entry.key)
            decoder.lines[sub] = entry.key_line
            out[entry.key] = decoder.value(entry.value, self.item, sub)
        return out


@dataclass(frozen=True, slots=True)
class ListOf(FieldCodec):
    """A repeated field of any kind (a null item is kept as None for istiod's `may not be null` checks)."""

    item: FieldKind

    def decode(self, decoder: Decoder, node: YNode, path: Path) -> list[Any] | None:
        if not isinstance(node, YSeq):
            decoder.type_error(path, "array", node)
            return None
        out: list[Any] = []
        for i, item in enumerate(node.items):
            decoder.lines[(*path, i)] = item.line
            out.append(decoder.value(item, self.item, (*path, i)))
        return out


@dataclass(frozen=True, slots=True)
class Checked(FieldCodec):
    """A message with the CRD's `required` fields and `oneOf` groups (at most one of the group set)."""

    message: Message
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()

    def decode(self, decoder: Decoder, node: YNode, path: Path) -> dict[str, Any] | None:
        out = decoder.message(node, self.message, path)
        if out is None or not isinstance(node, YMap):
            return out
        given = {self.message.lookup(entry.key) for entry in node.entries}
        for name in self.required:
            if name not in given:
                decoder.report((*path, name), f"{format_path((*path, name))}: Required value")
        if sum(name in given for name in self.one_of) > 1:
            found = sum(name in given for name in self.one_of)
            msg = f'{format_path(path)}: Invalid value: "object": must validate one and only one schema (oneOf).'
            decoder.report(path, f"{msg} Found {found} valid alternatives")
        return out


TLS_TYPE = "kubernetes.io/tls"
SECRET_ENVELOPE = frozenset({"type", "data", "stringData", "immutable"})  # besides apiVersion, kind, metadata
SECRET = Message("Secret", {"type": STRING, "data": MapOf(Base64()), "stringData": STRMAP, "immutable": BOOL})
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def parse_secret(
    node: YMap, meta: tuple[str, str], decoder: Decoder, rep: Reporter, at: tuple[SourceRef, int]
) -> TlsSecret | None:
    fields = YMap(tuple(e for e in node.entries if e.key in SECRET_ENVELOPE), node.line)
    raw = decoder.message(fields, SECRET, ()) or {}
    data: dict[str, bytes | None] = dict(raw.get("data") or {})
    for key, text in (raw.get("stringData") or {}).items():
        data[key] = text.encode()
    for key in data:
        if not _KEY.fullmatch(key):
            where = ("stringData", key) if key in (raw.get("stringData") or {}) else ("data", key)
            rep.error(where, f'data[{key}]: Invalid value: "{key}": {_KEY_RULE}')
    kind = raw.get("type", "Opaque")
    if kind == TLS_TYPE:
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                rep.error(("data",), f"data[{key}]: Required value", about=[("data", key)])
    cert_key = _pair(data)
    if cert_key is not None and not rep.has_errors:
        _check_material(rep, cert_key, data, raw)
    if rep.has_errors:
        return None
    cert, key = (data.get(cert_key[0]) or b"", data.get(cert_key[1]) or b"") if cert_key else (b"", b"")
    return TlsSecret(meta[0], meta[1], kind, cert, key, at[0], at[1])


def _pair(data: dict[str, bytes | None]) -> tuple[str, str] | None:
    """ExtractCertInfo's choice: generic `cert`/`key` when both hold bytes, else `tls.crt`/`tls.key`."""
    for cert, key in (("cert", "key"), ("tls.crt", "tls.key")):
        if data.get(cert) and data.get(key):
            return cert, key
    return None


def _where(key: str, raw: dict[str, Any]) -> tuple[str, str]:
    return ("stringData", key) if key in (raw.get("stringData") or {}) else ("data", key)


def _check_material(
    rep: Reporter, names: tuple[str, str], data: dict[str, bytes | None], raw: dict[str, Any]
) -> None:
    cert_name, key_name = names
    try:
        chain = x509.load_pem_x509_certificates(data[cert_name] or b"")
    except ValueError:
        rep.error(
            _where(cert_name, raw),
            f"{cert_name} holds no PEM certificate (meshgate checks what Envoy would serve)",
        )
        return
    try:
        key = serialization.load_pem_private_key(data[key_name] or b"", password=None)
    except (ValueError, TypeError):
        rep.error(_where(key_name, raw), f"{key_name} holds no unencrypted PEM private key")
        return
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    leaf = (
        chain[0]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    if public != leaf:
        rep.error(_where(key_name, raw), f"{key_name} does not match the first certificate of {cert_name}")
