"""Resources as JSON-able values for the admin port, with key material left out.

An inline `jwks` is a key set (for HS256, a shared secret): the admin port shows how many keys and their
kids, never the keys — in `/config_dump` and on the page alike.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from meshgate.config.model import JwtRule, RequestAuthentication
from meshgate.jose.jwks import parse_jwks


def jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def inline_keys_summary(jwks: str) -> str:
    keyset = parse_jwks(jwks)
    kids = ", ".join(keyset.kids) or "no kid"
    return f"<inline JWKS: {len(keyset.keys)} usable key(s), kids: {kids}; keys not shown>"


def without_inline_keys(rule: JwtRule) -> JwtRule:
    return dataclasses.replace(rule, jwks=inline_keys_summary(rule.jwks)) if rule.jwks else rule


def resource_view(resource: Any) -> Any:
    """The resource as loaded and validated (what the engine compiles), inline keys summarized."""
    if isinstance(resource, RequestAuthentication):
        resource = dataclasses.replace(
            resource, jwt_rules=tuple(map(without_inline_keys, resource.jwt_rules))
        )
    view = jsonable(resource)
    view.pop("source", None)
    view.pop("creation_index", None)
    return view
