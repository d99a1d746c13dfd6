"""`--mesh-config`: Istio's meshConfig `extensionProviders`, the ext_authz ones, as frozen values.

Accepted shapes: a MeshConfig document (`extensionProviders:` at the top), Istio's `istio` ConfigMap
(`data.mesh` holding that document as a string), an IstioOperator (`spec.meshConfig`) or Helm values
(`meshConfig`). Fields and defaults: istio/api mesh/v1alpha1/config.proto
EnvoyExternalAuthorizationHttpProvider / ...GrpcProvider (timeout 600s, failOpen false, statusOnError
"403"); checks after istio/istio pkg/config/validation/agent/extensionprovider.go. Providers of other
kinds (tracing, access log, ...) are not CUSTOM-capable and are ignored. Problems are `file:line`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from meshgate.errors import ConfigError, Problem

DEFAULT_TIMEOUT_S = 600.0  # config.proto: "default timeout: 600s"
DEFAULT_STATUS_ON_ERROR = 403  # config.proto: "The default status is "403" (HTTP Forbidden)"
HTTP_KIND = "envoyExtAuthzHttp"
GRPC_KIND = "envoyExtAuthzGrpc"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|ms|m|h)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_LINE = "__line__"


@dataclass(frozen=True, slots=True)
class ExtAuthzProvider:
    """One `envoyExtAuthzHttp` / `envoyExtAuthzGrpc` provider."""

    name: str
    kind: Literal["http", "grpc"]
    service: str  # `[<Namespace>/]<Hostname>` as written
    port: int
    timeout_s: float = DEFAULT_TIMEOUT_S
    fail_open: bool = False
    status_on_error: int = DEFAULT_STATUS_ON_ERROR
    path_prefix: str = ""
    include_request_headers_in_check: tuple[str, ...] = ()
    include_additional_headers_in_check: tuple[tuple[str, str], ...] = ()
    headers_to_upstream_on_allow: tuple[str, ...] = ()
    headers_to_downstream_on_deny: tuple[str, ...] = ()
    headers_to_downstream_on_allow: tuple[str, ...] = ()  # parsed; a gateway local answer has no use for it

    @property
    def host(self) -> str:
        """The host to connect to: the service without its `<Namespace>/` qualifier."""
        return self.service.rsplit("/", 1)[-1]


def header_matches(name: str, patterns: Iterable[str]) -> bool:
    """Istio's header patterns: exact, `prefix*`, `*suffix` (config.proto); names compare lower-cased."""
    for pattern in patterns:
        p = pattern.lower()
        if (
            p == name
            or (p.endswith("*") and name.startswith(p[:-1]))
            or (p.startswith("*") and name.endswith(p[1:]))
        ):
            return True
    return False


class _LineLoader(yaml.SafeLoader):
    """Remembers each mapping's line so problems can say `file:line`."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        return mapping


def load_mesh_config(path: str) -> dict[str, ExtAuthzProvider]:
    """The ext_authz providers declared in the mesh config file at `path`, by name."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError([Problem(path, 1, f"cannot read mesh config: {exc.strerror or exc}")]) from None
    return parse_mesh_config(text, path)


def parse_mesh_config(text: str, file: str = "<mesh-config>") -> dict[str, ExtAuthzProvider]:
    entries = [e for doc in _load_all(text, file) if doc is not None for e in _extension_providers(doc, file)]
    problems: list[Problem] = []
    providers: dict[str, ExtAuthzProvider] = {}
    for entry in entries:
        line = entry.get(_LINE, 1) if isinstance(entry, dict) else 1
        if not isinstance(entry, dict):
            problems.append(Problem(file, line, "extensionProviders entries must be objects"))
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            problems.append(Problem(file, line, "empty extension provider name"))
            continue
        if name in providers:
            problems.append(Problem(file, line, f"duplicate extension provider name {name!r}"))
            continue
        for kind in (HTTP_KIND, GRPC_KIND):
            if kind in entry:
                provider = _provider(name, kind, entry[kind], file, line, problems)
                if provider is not None:
                    providers[name] = provider
    if problems:
        raise ConfigError(problems)
    return providers


def _load_all(text: str, file: str) -> list[Any]:
    """Every YAML document (a mesh config may sit next to other resources, e.g. Istio's CUSTOM policy)."""
    try:
        return list(yaml.load_all(text, Loader=_LineLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([Problem(file, line, f"invalid YAML: {getattr(exc, 'problem', exc)}")]) from None


def _extension_providers(doc: Any, file: str) -> list[Any]:
    """Find `extensionProviders` in any of the accepted shapes."""
    if not isinstance(doc, dict):
        raise ConfigError([Problem(file, 1, "mesh config must be a YAML object")])
    if doc.get("kind") == "ConfigMap" and isinstance(doc.get("data"), dict):
        mesh = doc["data"].get("mesh")
        if isinstance(mesh, str):
            inner = f"{file} (data.mesh)"
            return [
                e for d in _load_all(mesh, inner) if d is not None for e in _extension_providers(d, inner)
            ]
    for holder in (
        doc.get("spec", {}).get("meshConfig") if isinstance(doc.get("spec"), dict) else None,
        doc.get("meshConfig"),
        doc,
    ):
        if isinstance(holder, dict) and "extensionProviders" in holder:
            found = holder["extensionProviders"]
            if not isinstance(found, list):
                raise ConfigError([Problem(file, holder.get(_LINE, 1), "extensionProviders must be a list")])
            return found
    return []


def _provider(
    name: str, kind: str, spec: Any, file: str, line: int, problems: list[Problem]
) -> ExtAuthzProvider | None:
    if not isinstance(spec, dict):
        problems.append(Problem(file, line, f"{name}: {kind} must be an object"))
        return None
    line = spec.get(_LINE, line)
    before = len(problems)

    def bad(message: str) -> None:
        problems.append(Problem(file, line, f"{name}: {message}"))

    service = spec.get("service")
    if not isinstance(service, str) or not service.rsplit("/", 1)[-1]:
        bad("service is required")
    port = spec.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        bad(f"port number {port} must be in the range 1..65535")
    timeout_s = _duration(spec.get("timeout"), bad)
    status = _status(spec.get("statusOnError"), bad)
    prefix = spec.get("pathPrefix", "")
    if not isinstance(prefix, str) or (prefix and not prefix.startswith("/")):
        bad(f"pathPrefix should begin with `/` but found {prefix!r}")
    lists = {
        key: _strings(spec.get(key), key, bad)
        for key in (
            "includeRequestHeadersInCheck",
            "headersToUpstreamOnAllow",
            "headersToDownstreamOnDeny",
            "headersToDownstreamOnAllow",
            "includeHeadersInCheck",
        )
    }
    extra = spec.get("includeAdditionalHeadersInCheck") or {}
    if not isinstance(extra, dict):
        bad("includeAdditionalHeadersInCheck must be a map")
        extra = {}
    if len(problems) > before:
        return None
    return ExtAuthzProvider(
        name=name,
        kind="http" if kind == HTTP_KIND else "grpc",
        service=str(service),
        port=int(port),  # type: ignore[arg-type]
        timeout_s=timeout_s,
        fail_open=bool(spec.get("failOpen", False)),
        status_on_error=status,
        path_prefix=str(prefix),
        include_request_headers_in_check=lists["includeRequestHeadersInCheck"]
        + lists["includeHeadersInCheck"],
        include_additional_headers_in_check=tuple((str(k), str(v)) for k, v in extra.items() if k != _LINE),
        headers_to_upstream_on_allow=lists["headersToUpstreamOnAllow"],
        headers_to_downstream_on_deny=lists["headersToDownstreamOnDeny"],
        headers_to_downstream_on_allow=lists["headersToDownstreamOnAllow"],
    )


def _duration(value: Any, bad: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    match = _DURATION.match(str(value).strip())
    if match is None:
        bad(f"invalid timeout {value!r} (expected a duration such as 0.5s)")
        return DEFAULT_TIMEOUT_S
    return float(match.group(1)) * _UNITS[match.group(2)]


def _status(value: Any, bad: Any) -> int:
    if value is None or value == "":
        return DEFAULT_STATUS_ON_ERROR
    text = str(value).strip()
    if not text.isdigit() or not 100 <= int(text) <= 599:
        bad(f"invalid statusOnError value {value!r}")
        return DEFAULT_STATUS_ON_ERROR
    return int(text)


def _strings(value: Any, key: str, bad: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        bad(f"{key} must be a list of non-empty strings")
        return ()
    return tuple(value)
