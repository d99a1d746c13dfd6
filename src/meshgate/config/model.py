"""Istio `security.istio.io` resources as frozen values (istio/api security/v1beta1/*.proto).

Lists are tuples; a field the YAML left out is `None` where absent and empty differ in meaning
(e.g. `rules` absent vs `rules: []` — both never match, but validation words them differently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from meshgate.config.networking.model import Gateway, ServiceEntry, TlsSecret, VirtualService
from meshgate.errors import SourceRef as SourceRef

DEFAULT_JWKS_TIMEOUT_S = 5.0  # istio/api request_authentication.proto JWTRule.timeout default
DEFAULT_ROOT_NAMESPACE = "istio-system"  # istio/istio:pkg/config/mesh/mesh.go
DRY_RUN_ANNOTATION = "istio.io/dry-run"


@dataclass(frozen=True, slots=True)
class TargetRef:
    kind: str
    name: str
    group: str = ""
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class JwtHeader:
    name: str
    prefix: str = ""


@dataclass(frozen=True, slots=True)
class ClaimToHeader:
    header: str
    claim: str


@dataclass(frozen=True, slots=True)
class JwtRule:
    issuer: str = ""
    audiences: tuple[str, ...] = ()
    jwks_uri: str = ""
    jwks: str = ""
    from_headers: tuple[JwtHeader, ...] = ()
    from_params: tuple[str, ...] = ()
    from_cookies: tuple[str, ...] = ()
    output_payload_to_header: str = ""
    forward_original_token: bool = False
    output_claim_to_headers: tuple[ClaimToHeader, ...] = ()
    timeout_s: float = DEFAULT_JWKS_TIMEOUT_S
    space_delimited_claims: tuple[str, ...] = ()

    @property
    def has_explicit_locations(self) -> bool:
        return bool(self.from_headers or self.from_params or self.from_cookies)


@dataclass(frozen=True, slots=True)
class RequestAuthentication:
    name: str
    namespace: str
    jwt_rules: tuple[JwtRule, ...] = ()
    selector: dict[str, str] | None = None  # matchLabels; None = no selector
    target_refs: tuple[TargetRef, ...] = ()
    source: SourceRef = field(default_factory=SourceRef)
    creation_index: int = 0  # load order stands in for creationTimestamp


class Action(Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    AUDIT = "AUDIT"
    CUSTOM = "CUSTOM"


@dataclass(frozen=True, slots=True)
class Source:
    principals: tuple[str, ...] | None = None
    not_principals: tuple[str, ...] | None = None
    request_principals: tuple[str, ...] | None = None
    not_request_principals: tuple[str, ...] | None = None
    namespaces: tuple[str, ...] | None = None
    not_namespaces: tuple[str, ...] | None = None
    service_accounts: tuple[str, ...] | None = None
    not_service_accounts: tuple[str, ...] | None = None
    ip_blocks: tuple[str, ...] | None = None
    not_ip_blocks: tuple[str, ...] | None = None
    remote_ip_blocks: tuple[str, ...] | None = None
    not_remote_ip_blocks: tuple[str, ...] | None = None
    trust_domains: tuple[str, ...] | None = None
    not_trust_domains: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    hosts: tuple[str, ...] | None = None
    not_hosts: tuple[str, ...] | None = None
    ports: tuple[str, ...] | None = None
    not_ports: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    not_methods: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None
    not_paths: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    values: tuple[str, ...] | None = None
    not_values: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    from_: tuple[Source, ...] | None = None
    to: tuple[Operation, ...] | None = None
    when: tuple[Condition, ...] | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationPolicy:
    name: str
    namespace: str
    action: Action = Action.ALLOW
    rules: tuple[Rule, ...] | None = None
    provider: str | None = None  # CUSTOM provider name
    selector: dict[str, str] | None = None
    target_refs: tuple[TargetRef, ...] = ()
    dry_run: bool = False  # parsed `istio.io/dry-run` annotation (strconv.ParseBool; unparsable → enforced)
    source: SourceRef = field(default_factory=SourceRef)
    creation_index: int = 0


@dataclass(frozen=True, slots=True)
class ResourceSet:
    """Everything loaded from the `-c` paths, valid and in load order."""

    request_authentications: tuple[RequestAuthentication, ...] = ()
    authorization_policies: tuple[AuthorizationPolicy, ...] = ()
    skipped: tuple[str, ...] = ()  # "file:line: skipped kind X (apiVersion Y)" notes
    # networking.istio.io and core/v1 (config/networking/model.py): what an ingress serves and where it routes
    gateways: tuple[Gateway, ...] = ()
    virtual_services: tuple[VirtualService, ...] = ()
    service_entries: tuple[ServiceEntry, ...] = ()
    secrets: tuple[TlsSecret, ...] = ()


@dataclass(frozen=True, slots=True)
class Workload:
    """The workload meshgate guards: Istio selects policies by its namespace and labels."""

    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    root_namespace: str = DEFAULT_ROOT_NAMESPACE
