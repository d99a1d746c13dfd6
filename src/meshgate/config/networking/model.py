"""networking.istio.io Gateway, VirtualService, ServiceEntry and core/v1 TLS Secrets as frozen values.

Built only from a resource that validated without errors (config/networking/build.py), so every field here is what
istiod would act on. Fields cited in cross-resource problems (`gateways[i]`, a destination, a
credentialName, a server) keep the line they were written on; the file is the resource's `source`.
Field meanings: istio/api networking/v1alpha3/{gateway,virtual_service,service_entry}.proto.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from meshgate.errors import SourceRef

MatchKind = Literal["exact", "prefix", "regex", "present"]


@dataclass(frozen=True, slots=True)
class ServerPort:
    number: int
    protocol: str
    name: str


@dataclass(frozen=True, slots=True)
class ServerTls:
    mode: str = "PASSTHROUGH"  # the proto enum's zero value
    https_redirect: bool = False
    credential_name: str = ""
    credential_line: int = 0


@dataclass(frozen=True, slots=True)
class Server:
    port: ServerPort
    hosts: tuple[str, ...]
    index: int
    line: int
    tls: ServerTls | None = None
    bind: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Gateway:
    name: str
    namespace: str
    servers: tuple[Server, ...]
    selector: dict[str, str] | None = None  # None: no selector (selects every gateway workload)
    source: SourceRef = field(default_factory=SourceRef)
    creation_index: int = 0


@dataclass(frozen=True, slots=True)
class StringMatch:
    """Istio's StringMatch: exact/prefix/regex, or `present` for `{}` and regex `*` (istiod's present_match)."""

    kind: MatchKind
    value: str = ""


@dataclass(frozen=True, slots=True)
class HeaderOperations:
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Headers:
    request: HeaderOperations = HeaderOperations()
    response: HeaderOperations = HeaderOperations()


@dataclass(frozen=True, slots=True)
class HttpMatch:
    name: str = ""
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: tuple[tuple[str, StringMatch], ...] = ()
    without_headers: tuple[tuple[str, StringMatch], ...] = ()
    query_params: tuple[tuple[str, StringMatch], ...] = ()
    port: int = 0
    ignore_uri_case: bool = False
    source_labels: dict[str, str] = field(default_factory=dict)
    source_namespace: str = ""
    gateways: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class Destination:
    host: str
    line: int
    port: int | None = None
    subset: str = ""


@dataclass(frozen=True, slots=True)
class RouteDestination:
    destination: Destination
    weight: int = 0
    headers: Headers | None = None


@dataclass(frozen=True, slots=True)
class Redirect:
    uri: str = ""
    authority: str = ""
    prefix_rewrite: str = ""
    scheme: str = ""
    port: int | None = None
    derive_port: str = ""
    redirect_code: int = 0


@dataclass(frozen=True, slots=True)
class DirectResponse:
    status: int
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Rewrite:
    uri: str = ""
    authority: str = ""
    regex_match: str = ""
    regex_rewrite: str = ""


@dataclass(frozen=True, slots=True)
class HttpRoute:
    index: int
    line: int
    name: str = ""
    match: tuple[HttpMatch, ...] = ()
    route: tuple[RouteDestination, ...] = ()
    redirect: Redirect | None = None
    direct_response: DirectResponse | None = None
    rewrite: Rewrite | None = None
    headers: Headers | None = None
    timeout_s: float | None = None  # None: no timeout (istiod's default for routes)


@dataclass(frozen=True, slots=True)
class GatewayRef:
    name: str  # as written (`gw`, `ns/gw`, `./gw`, `gw.ns.svc.cluster.local`, `mesh`)
    line: int


@dataclass(frozen=True, slots=True)
class VirtualService:
    name: str
    namespace: str
    hosts: tuple[str, ...]
    gateways: tuple[GatewayRef, ...] = ()
    http: tuple[HttpRoute, ...] = ()
    export_to: tuple[str, ...] = ()
    source: SourceRef = field(default_factory=SourceRef)
    creation_index: int = 0


@dataclass(frozen=True, slots=True)
class ServicePort:
    number: int
    name: str
    protocol: str = ""
    target_port: int = 0


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    line: int
    ports: dict[str, int] = field(default_factory=dict)  # service port name → endpoint port
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    name: str
    namespace: str
    hosts: tuple[str, ...]
    host_lines: tuple[int, ...] = ()
    ports: tuple[ServicePort, ...] = ()
    resolution: str = "NONE"
    endpoints: tuple[Endpoint, ...] = ()
    workload_selector: dict[str, str] | None = None
    export_to: tuple[str, ...] = ()
    source: SourceRef = field(default_factory=SourceRef)
    creation_index: int = 0


@dataclass(frozen=True, slots=True)
class TlsSecret:
    """A core/v1 Secret holding a serving certificate chain and its private key (PEM), as istiod's
    credentialName reads it (pilot/pkg/credentials/kube/secrets.go: `cert`/`key` or `tls.crt`/`tls.key`)."""

    name: str
    namespace: str
    type: str
    cert_pem: bytes = field(repr=False, default=b"")
    key_pem: bytes = field(repr=False, default=b"")
    source: SourceRef = field(default_factory=SourceRef)
    creation_index: int = 0
