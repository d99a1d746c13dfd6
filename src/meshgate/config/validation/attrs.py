"""Value checks of istio/istio pkg/config/security/security.go, with their exact messages.

Each check returns `(index, message)` pairs: `index` is the offending list item, or -1 when the
problem is the key or the list as a whole. Trust-domain checks follow docs/istio-semantics.md §6
(newer than the security.go read for the rest).
"""

from __future__ import annotations

import re

from meshgate.config.govalues import go_quote, parse_addr, parse_prefix_error, parse_uint_error

Found = tuple[int, str]

MATCH_ONE_TEMPLATE = "{*}"
MATCH_ANY_TEMPLATE = "{**}"
_VALID_LITERAL = re.compile(r"^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$")  # security.go validLiteral
_SA_FORMAT = "expected format 'serviceAccount' or 'namespace/serviceAccount', found"


def check_empty(field: str, values: list[str]) -> Found | None:
    for i, value in enumerate(values):
        if value == "":
            return i, f"empty value not allowed, found in {field}"
    return None


def check_service_accounts(field: str, values: list[str]) -> Found | None:
    if len(values) > 16:  # "Arbitrary limit to avoid unbounded configuration sizes"
        return -1, "may not have more than 16 values"
    for i, value in enumerate(values):
        if value == "":
            return i, f"empty value not allowed, found in {field}"
        if "*" in value:
            return i, f"wildcard not allowed, found in {field}"
        if value.count("/") not in (0, 1):
            return i, f"{_SA_FORMAT} {go_quote(value)} in {field}"
        if len(value.encode()) > 320:
            return i, f"value cannot exceed 320 characters, found {go_quote(value)} in {field}"
        ns, slash, sa = value.partition("/")
        if slash and not ns:
            return i, f"{_SA_FORMAT} empty namespace {go_quote(value)} in {field}"
        if slash and not sa:
            return i, f"{_SA_FORMAT} empty serviceAccount {go_quote(value)} in {field}"
    return None


def check_trust_domains(field: str, values: list[str]) -> Found | None:
    for i, value in enumerate(values):
        quoted = go_quote(value)
        if value == "":
            return i, f"empty value not allowed, found in {field}"
        if value.count("*") > 1:
            return i, f"at most one wildcard is allowed, found in {field}: {quoted}"
        if "*" in value[1:-1]:
            return i, f"wildcard is only allowed at the start or end, found in {field}: {quoted}"
        if "/" in value:
            return i, f"trust domain must not contain '/', found in {field}: {quoted}"
    return None


def check_path_templates(field: str, paths: list[str]) -> Found | None:
    """CheckValidPathTemplate; note istiod prints the path with its outer slashes trimmed."""
    for i, original in enumerate(paths):
        has_template = MATCH_ONE_TEMPLATE in original or MATCH_ANY_TEMPLATE in original
        path = original.strip("/")
        head = f"invalid or unsupported path {path}, found in {field}."
        found_any = False
        for glob in path.split("/"):
            if glob in (MATCH_ONE_TEMPLATE, MATCH_ANY_TEMPLATE):
                if found_any:
                    return i, f"{head} {{**}} is not the last operator"
                found_any = glob == MATCH_ANY_TEMPLATE
                continue
            if "{" in glob or "}" in glob:
                return i, f"{head} Contains '{{' or '}}' beyond a supported path template"
            if has_template and not _VALID_LITERAL.match(glob):
                return i, f"{head} Contains segment {glob} with invalid string literal"
    return None


def validate_ips(values: list[str]) -> list[Found]:
    out: list[Found] = []
    for i, value in enumerate(values):
        if "/" in value:
            err = parse_prefix_error(value)
            if err is not None:
                out.append((i, f"bad CIDR range ({value}): {err}"))
        elif parse_addr(value)[2] is not None:
            out.append((i, f"bad IP address ({value})"))
    return out


def validate_ports(values: list[str]) -> list[Found]:
    out: list[Found] = []
    for i, value in enumerate(values):
        err = parse_uint_error(value, 32)
        if err is not None or int(value) > 65535:
            out.append((i, f"bad port ({value}): {err if err is not None else '<nil>'}"))
    return out


def _map_key(key: str) -> list[Found]:
    """validateMapKey: `a[b]` — a `[` after the first character and a `]` at the end."""
    open_at = key.find("[")
    if key.endswith("]") and 0 < open_at < len(key) - 2:
        return []
    return [(-1, f"bad key ({key}): should have format a[b]")]


_OK: tuple[str, ...] = (
    "source.namespace", "source.principal", "request.auth.principal", "request.auth.audiences",
    "request.auth.presenter", "connection.sni",
)  # fmt: skip


def validate_attribute(key: str, values: list[str]) -> list[Found]:
    """ValidateAttribute: the `when` keys istiod knows, and the ones it rejects with a reason."""
    empty = check_empty(key, values)
    if empty is not None:
        return [empty]
    if key.startswith(("request.headers", "request.experimental.inline.headers")):
        return _map_key(key)
    if key in ("source.ip", "remote.ip", "destination.ip"):
        return validate_ips(values)
    if key == "source.serviceAccount":
        found = check_service_accounts(key, values)
        return [found] if found else []
    if key == "source.trustDomain":
        found = check_trust_domains(key, values)
        return [found] if found else []
    if key in _OK:
        return []
    if key.startswith(("request.auth.claims", "experimental.envoy.filters.")):
        return _map_key(key)
    if key == "destination.port":
        return validate_ports(values)
    if key == "destination.namespace":
        return [(-1, f"attribute {key} is replaced by the metadata.namespace")]
    if key.startswith("destination.labels"):
        return [(-1, f"attribute {key} is replaced by the workload selector")]
    if key in ("destination.name", "destination.user"):
        return [(-1, f"deprecated attribute {key}: only supported in v1alpha1")]
    return [(-1, f"unknown attribute: {key}")]
