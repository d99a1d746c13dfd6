"""What RBAC sees of a request: the one value every compiled predicate reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from meshgate.authn.identity import Identity


@dataclass(slots=True)
class AuthzRequest:
    """`path` is normalized, without query/fragment; header names are lower-case and the headers are the
    ones jwt_authn left (authn/header_edits.py). A plain record: one is built per request."""

    method: str
    host: str
    path: str
    port: int
    headers: Mapping[str, tuple[str, ...]]
    source_ip: str
    remote_ip: str
    destination_ip: str
    sni: str
    identity: Identity | None


Predicate = Callable[[AuthzRequest], bool]  # one compiled field, `when` condition or rule
