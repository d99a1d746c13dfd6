"""Host names: istiod's validation and comparison of them, and Envoy's reading of an authority.

Sources: istio/istio pkg/config/host/{name,names}.go (Matches, SubsetOf, Intersection, NamesForNamespace),
pilot/pkg/model/config.go (ResolveShortnameToFQDN, resolveGatewayName), pkg/config/validation/agent/
validation.go (ValidateWildcardDomain, ValidateFQDN, ValidateNamespaceSlashWildcardHostname),
pkg/config/labels/instance.go (IsDNS1123Label), pkg/config/visibility (exportTo); envoyproxy/envoy
source/common/http/header_utility.cc (getPortStart). Every function is pure and returns errors as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from meshgate.config.govalues import go_quote, parse_addr

DEFAULT_DOMAIN = "cluster.local"  # meta.Domain istiod appends to short names on Kubernetes
MESH_GATEWAY = "mesh"  # the reserved gateway name: the sidecars of the mesh, not an ingress
_DNS1123_LABEL = re.compile(r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?")
_DNS1123 = "[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?"
_WILDCARD_LABEL = re.compile(rf"\*|(?:\*|\*-)?{_DNS1123}")


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def is_ip(value: str) -> bool:
    return parse_addr(value)[2] is None


def _labels_error(domain: str) -> str | None:
    """ValidateDNS1123Labels."""
    parts = domain.split(".")
    if parts[-1].isdigit() or (parts[-1][:1] in "+-" and parts[-1][1:].isdigit() and parts[-1][1:]):
        return f"domain name {go_quote(domain)} invalid (top level domain {go_quote(parts[-1])} cannot be all-numeric)"
    for i, label in enumerate(parts):
        if i == len(parts) - 1 and label == "":
            return None
        if not is_dns1123_label(label):
            return f"domain name {go_quote(domain)} invalid (label {go_quote(label)} invalid)"
    return None


def _preconditions_error(name: str) -> str | None:
    if len(name.encode()) > 255:
        return f"domain name {go_quote(name)} too long (max 255)"
    if not name:
        return "empty domain name not allowed"
    return None


def fqdn_error(fqdn: str) -> str | None:
    """agent.ValidateFQDN."""
    return _preconditions_error(fqdn) or _labels_error(fqdn)


def wildcard_domain_error(domain: str) -> str | None:
    """agent.ValidateWildcardDomain: a wildcard only in the first label (`*`, `*.foo.com`, `*-bar.foo.com`)."""
    found = _preconditions_error(domain)
    if found:
        return found
    first, _, rest = domain.partition(".")
    if len(first) > 63 or _WILDCARD_LABEL.fullmatch(first) is None:
        return f"domain name {go_quote(domain)} invalid (label {go_quote(first)} invalid)"
    return _labels_error(rest) if "." in domain else None


def partial_wildcard_error(host: str) -> str | None:
    """agent.ValidatePartialWildCard."""
    if "*" in host and len(host) != 1 and not host.startswith("*."):
        return f"partial wildcard {go_quote(host)} not allowed"
    return None


def gateway_host_errors(hostname: str) -> list[str]:
    """agent.ValidateNamespaceSlashWildcardHostname(hostname, isGateway=true): a Gateway server's host."""
    ns, slash, name = hostname.partition("/")
    if not slash:
        return _gateway_host_part_errors(hostname)
    errors = []
    if not ns or not name:
        errors.append("config namespace and dnsName in host entry cannot be empty")
    if ns not in ("*", ".") and not is_dns1123_label(ns):
        errors.append(f"invalid namespace value {go_quote(ns)} in gateway")
    return errors + _gateway_host_part_errors(name)


def _gateway_host_part_errors(hostname: str) -> list[str]:
    errors = []
    if hostname != "*" and "." not in hostname:
        errors.append("short names (non FQDN) are not allowed")
    found = wildcard_domain_error(hostname)
    if found and not is_ip(hostname):
        errors.append(found)
    found = partial_wildcard_error(hostname)
    return errors + ([found] if found else [])


def is_wildcard(name: str) -> bool:
    return name.startswith("*")


def matches(a: str, b: str) -> bool:
    """host.Name.Matches: the two names overlap (either covers the other)."""
    if is_wildcard(a) and is_wildcard(b):
        return b[1:].endswith(a[1:]) if len(a) < len(b) else a[1:].endswith(b[1:])
    if is_wildcard(a):
        return b.endswith(a[1:])
    if is_wildcard(b):
        return a.endswith(b[1:])
    return a == b


def subset_of(a: str, b: str) -> bool:
    """host.Name.SubsetOf: `a` is covered by `b`."""
    if is_wildcard(a):
        return is_wildcard(b) and len(a) >= len(b) and a[1:].endswith(b[1:])
    return a.endswith(b[1:]) if is_wildcard(b) else a == b


def intersection(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """host.Names.Intersection, in its order: for each of `first`, the narrower of each overlapping pair."""
    out: list[str] = []
    for a in first:
        for b in second:
            narrower = a if subset_of(a, b) else (b if subset_of(b, a) else None)
            if narrower is not None and narrower not in out:
                out.append(narrower)
    return out


def names_for_namespace(hosts: Iterable[str], namespace: str) -> list[str]:
    """host.NamesForNamespace: a server's `ns/host` entries that apply to a VirtualService in `namespace`."""
    out = []
    for entry in hosts:
        ns, slash, name = entry.partition("/")
        if slash:
            if ns not in (namespace, "*"):
                continue
            entry = name
        out.append(entry)
    return out


def sanitize_server_hosts(hosts: Sequence[str], gateway_namespace: str) -> tuple[str, ...]:
    """model.sanitizeServerHostNamespace: `./h` → `<gateway ns>/h`, `*/h` → `h`, `*/*` → only `*`."""
    out: list[str] = []
    for entry in hosts:
        ns, slash, name = entry.partition("/")
        if not slash:
            out.append(entry)
        elif ns == ".":
            out.append(f"{gateway_namespace}/{name}")
        elif ns == "*":
            if name == "*":
                return ("*",)
            out.append(name)
        else:
            out.append(entry)
    return tuple(out)


def resolve_shortname(host: str, namespace: str) -> str:
    """ResolveShortnameToFQDN: `reviews` in `default` → `reviews.default.svc.cluster.local`."""
    if not host or host == "*" or is_ip(host) or "." in host:
        return host
    return f"{host}.{namespace}.svc.{DEFAULT_DOMAIN}"


def resolve_gateway_name(name: str, namespace: str) -> str:
    """resolveGatewayName: `gw` → `ns/gw`, `./gw` → `ns/gw`, legacy `gw.ns.svc.cluster.local` → `ns/gw`."""
    if "/" in name:
        ns, _, rest = name.partition("/")
        return f"{namespace}/{rest}" if ns == "." else name
    if "." not in name:
        return f"{namespace}/{name}"
    short, _, rest = name.partition(".")
    return f"{rest.split('.', 1)[0]}/{short}"


def strip_port(authority: str) -> str:
    """The host of an authority as Envoy matches virtual hosts with ignore_port_in_host_matching: a trailing
    `:digits` after any `]` is removed (HeaderUtility::getPortStart), the rest is kept as is."""
    colon = authority.rfind(":")
    if colon < 0 or authority.rfind("]") > colon:
        return authority
    port = authority[colon + 1 :]
    digits = port[1:] if port[:1] == "+" else port
    if digits.isascii() and digits.isdigit() and int(digits) < 2**32:
        return authority[:colon]
    return authority


def export_rank(resource_namespace: str, export_to: Sequence[str], proxy_namespace: str) -> int | None:
    """How a resource is visible to a proxy in `proxy_namespace` (pkg/config/visibility, the mesh default
    exportTo `*`): 0 private to its namespace, 1 exported to the proxy's by name, 2 public; None: hidden."""
    entries = [resource_namespace if e == "." else e for e in export_to] or ["*"]
    if "~" in entries:
        return None
    if "*" in entries:
        return 2
    if proxy_namespace not in entries:
        return None
    return 0 if proxy_namespace == resource_namespace else 1


_QUALIFIED = "(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_TAG_KEY = re.compile(rf"({_DNS1123}(?:\.{_DNS1123})*/)?({_QUALIFIED})")
_LABEL_VALUE = re.compile(rf"(?:{_QUALIFIED})?")


def label_errors(labels: dict[str, str]) -> list[tuple[str, str]]:
    """labels.Instance.Validate: (key, message) per bad key or value."""
    out: list[tuple[str, str]] = []
    for key, value in labels.items():
        m = _TAG_KEY.fullmatch(key)
        if m is None:
            out.append((key, f"invalid tag key: {go_quote(key)}"))
        elif m.group(1) and len(m.group(1)) - 1 > 253:
            out.append((key, f"invalid tag key: {go_quote(key)} (DNS prefix is too long)"))
        elif len(m.group(2)) > 63:
            out.append((key, f"invalid tag key: {go_quote(key)} (name is too long)"))
        if _LABEL_VALUE.fullmatch(value) is None:
            out.append((key, f"invalid tag value: {go_quote(value)}"))
    return out


def export_to_errors(namespace: str, export_to: Sequence[str], service_entry: bool) -> list[tuple[int, str]]:
    """validateExportTo: (index, message); index -1 for the list as a whole."""
    out: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, entry in enumerate(export_to):
        key = namespace if entry == "." else entry
        if key in seen:
            detail = f". and current namespace {namespace}" if key != entry else f"for entry {entry}"
            out.append((i, f"duplicate entries in exportTo{':' if key != entry else ''} {detail}"))
        elif (service_entry and entry == "~") or key in (".", "*"):
            seen.add(key)
        elif entry == "~":
            out.append((i, "exportTo ~ (none) is not allowed for Istio configuration objects"))
        elif not is_dns1123_label(key):
            out.append((i, "only .,*, or a valid DNS 1123 label is allowed as exportTo entry"))
        else:
            seen.add(key)
    if "*" in seen and len(export_to) > 1:
        out.append((-1, "cannot have both public (*) and non-public exportTo values for a resource"))
    if "~" in seen and len(export_to) > 1:
        out.append((-1, "cannot export service entry to no one (~) and someone"))
    return out
