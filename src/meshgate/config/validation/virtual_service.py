"""istiod's validation of a VirtualService as a whole: hosts, gateways, the routes, exportTo, unreachable rules.

Source: istio/istio pkg/config/validation/validation.go (ValidateVirtualService, validateGatewayNames,
validateStringMatch, validateStringRegexp, analyzeUnreachableHTTPRules,
genMatchHTTPRoutes, coveredValidation, validateExportTo), agent/validation.go
(ValidateWildcardDomainForVirtualServiceBoundToGateway), virtualservice.go (validateHTTPRouteMatchRequest).
What each `http[]` route does: config/validation/http_route.py. meshgate
routes `http[]` only; a gateway-bound VirtualService's `tcp[]`/`tls[]` routes are warned as not served.
"""

from __future__ import annotations

import json
import re
from typing import Any

from meshgate.config.govalues import go_quote
from meshgate.config.networking import hosts
from meshgate.config.networking.re2 import RE2Error, translate
from meshgate.config.report import Reporter
from meshgate.config.schema import Path
from meshgate.config.validation.gateway import port_error

RE2_HINT = "Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"
_TCHAR_NAME = re.compile(r"[!#$%&'*+\-.^_`|~A-Za-z0-9]+")
_PSEUDO = frozenset({":method", ":scheme", ":authority", ":path", ":status"})
_NESTED_REPEAT = re.compile(r"\((?:[^()\\]|\\.)*[*+](?:[^()\\]|\\.)*\)(?:[*+]|\{[0-9]+,[0-9]*\})")


def validate_virtual_service(rep: Reporter, spec: dict[str, Any], namespace: str) -> None:
    vs_hosts: list[str] = spec.get("hosts") or []
    gateways: list[str] = spec.get("gateways") or []
    if not vs_hosts:
        for key, what in (("gateways", "gateways specified"), ("tls", "tls route specified"),
                          ("tcp", "tcp route specified")):  # fmt: skip
            if spec.get(key):
                rep.invalid(("spec", key), f"delegate virtual service must have no {what}")
    to_gateway = bool(gateways) and hosts.MESH_GATEWAY not in gateways
    report_gateway_names(rep, ("spec", "gateways"), gateways)
    if not to_gateway:
        _jwt_claims_need_gateway(rep, spec, gateways)
    _validate_hosts(rep, vs_hosts, to_mesh=not to_gateway, sni=_has_sni(spec))
    if not spec.get("http") and not spec.get("tcp") and not spec.get("tls"):
        rep.invalid(
            ("spec",), "http, tcp or tls must be provided in virtual service", about=[("spec", "http")]
        )
    if to_gateway:
        for key in ("tcp", "tls"):
            if spec.get(key):
                rep.warn(("spec", key), f"meshgate routes http[] only: the {key}[] routes are not served")
    for index, message in hosts.export_to_errors(namespace, spec.get("exportTo") or [], service_entry=False):
        rep.invalid(("spec", "exportTo", index) if index >= 0 else ("spec", "exportTo"), message)
    _warn_unreachable(rep, spec.get("http") or [])


def _has_sni(spec: dict[str, Any]) -> bool:
    return any((m or {}).get("sniHosts") for t in spec.get("tls") or () for m in (t or {}).get("match") or ())


def _jwt_claims_need_gateway(rep: Reporter, spec: dict[str, Any], gateways: list[str]) -> None:
    for i, http in enumerate(spec.get("http") or ()):
        for j, match in enumerate((http or {}).get("match") or ()):
            for field in ("headers", "withoutHeaders"):
                for key in (match or {}).get(field) or {}:
                    if is_jwt_claim(key):
                        msg = f"JWT claim based routing (key: {key}) is only supported for gateway, found no gateways:"
                        rep.invalid(
                            ("spec", "http", i, "match", j, field, key), f"{msg} [{' '.join(gateways)}]"
                        )


def _validate_hosts(rep: Reporter, vs_hosts: list[str], to_mesh: bool, sni: bool) -> None:
    all_valid = True
    for i, host in enumerate(vs_hosts):
        found = None if sni and host.startswith("outbound_") else hosts.wildcard_domain_error(host)
        if found:
            if not hosts.is_ip(host):
                rep.invalid(("spec", "hosts", i), found)
                all_valid = False
        elif to_mesh and host == "*":
            rep.invalid(
                ("spec", "hosts", i),
                "wildcard host * is not allowed for virtual services bound to the mesh gateway",
            )
            all_valid = False
    if not all_valid:
        return
    for i, first in enumerate(vs_hosts):
        for j in range(i + 1, len(vs_hosts)):
            if hosts.matches(first, vs_hosts[j]):
                rep.invalid(
                    ("spec", "hosts", j), f"duplicate hosts in virtual service: {first} & {vs_hosts[j]}"
                )


_Prefix = tuple[str, str, str, dict[str, Any], Path]  # prefix, rule name, match name, match, where


def _route_name(route: dict[str, Any], index: int) -> str:
    return go_quote(route["name"]) if route.get("name") else f"#{index}"


def _warn_unreachable(rep: Reporter, routes: list[dict[str, Any] | None]) -> None:
    """analyzeUnreachableHTTPRules: later rules an earlier catch-all or identical match makes unreachable."""
    seen: dict[str, int] = {}
    catch_all = -1
    prefixes: list[_Prefix] = []
    for n, route in enumerate(routes):
        if route is None:
            continue
        where = ("spec", "http", n)
        name = _route_name(route, n)
        matches = route.get("match") or []
        if not matches:
            if catch_all >= 0:
                rep.warn(
                    where, f"virtualService rule {name} not used (only the last rule can have no matches)"
                )
            catch_all = n
            continue
        duplicates = 0
        for m, match in enumerate(matches):
            if catch_all >= 0:
                rep.warn(where, f"virtualService rule {name} not used (route without matches defined before)")
                continue
            key = json.dumps(
                {k: v for k, v in (match or {}).items() if k != "name"}, sort_keys=True, default=str
            )
            match_name = go_quote(match["name"]) if (match or {}).get("name") else f"#{m}"
            if key in seen:
                dup = _route_name(routes[seen[key]] or {}, seen[key])
                msg = f"virtualService rule {name} match {match_name} is not used (duplicate/overlapping match in rule"
                rep.warn(("spec", "http", n, "match", m), f"{msg} {dup})")
                duplicates += 1
                continue
            seen[key] = n
            prefix = ((match or {}).get("uri") or {}).get("prefix")
            if prefix:
                prefixes.append((prefix, name, match_name, match or {}, ("spec", "http", n, "match", m)))
        if duplicates == len(matches):
            rep.warn(where, f"virtualService rule {name} not used (all matches used by prior rules)")
    _warn_covered_prefixes(rep, prefixes)


def _exact_or_prefix(sm: dict[str, Any] | None) -> str:
    sm = sm or {}
    return (
        f"exact:{sm['exact']}" if sm.get("exact") else (f"prefix:{sm['prefix']}" if sm.get("prefix") else "")
    )


def _warn_covered_prefixes(rep: Reporter, prefixes: list[_Prefix]) -> None:
    """coveredValidation: a later prefix match an earlier, shorter prefix with the same conditions covers."""
    for a, (prefix_a, route_a, match_a, ma, _) in enumerate(prefixes):
        for prefix_b, route_b, match_b, mb, where in prefixes[a + 1 :]:
            if prefix_b != prefix_a and prefix_b.startswith(prefix_a) and _same_conditions(ma, mb):
                covered = f"{match_b} of prefix {prefix_b}"
                by = f"{match_a} of prefix {prefix_a} on {route_a}"
                msg = f"virtualService rule {route_b} match {covered} is not used (duplicate/overlapping match in rule"
                rep.warn(where, f"{msg} {by})")


def _same_conditions(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.get("port", 0) != b.get("port", 0):
        return False
    for key in ("method", "authority"):
        va, vb = _exact_or_prefix(a.get(key)), _exact_or_prefix(b.get(key))
        if key == "method":
            va, vb = va or "exact:GET", vb or "exact:GET"
        if va != vb and not va.startswith(vb):
            return False
    for key in ("headers", "queryParams", "withoutHeaders"):
        ma = {k: _exact_or_prefix(v) for k, v in (a.get(key) or {}).items()}
        mb = {k: _exact_or_prefix(v) for k, v in (b.get(key) or {}).items()}
        if len(ma) != len(mb) or any(
            k not in mb or (v != mb[k] and not v.startswith(mb[k])) for k, v in ma.items()
        ):
            return False
    return True


def is_jwt_claim(name: str) -> bool:
    return name.startswith(("@request.auth.claims.", "@request.auth.claims["))


def string_match_error(sm: dict[str, Any] | None, where: str, uri: bool = False) -> str | None:
    """validateStringMatch (`uri` allows an empty prefix: validateStringMatchRegexp only)."""
    if sm is None:
        return None
    if "prefix" in sm and not sm["prefix"] and not uri:
        return f"{go_quote(where)}: prefix string match should not be empty"
    if "regex" in sm:
        return regex_error(sm["regex"], where)
    return None


def regex_error(regex: str, where: str) -> str | None:
    """validateStringRegexp, plus the RE2 constructs meshgate cannot evaluate with Python's re."""
    if not regex:
        return f"{go_quote(where)}: regex string match should not be empty"
    if len(regex.encode()) > 1024:
        return f"{go_quote(where)}: regex is too large, max length allowed is 1024"
    try:
        translate(regex)
    except RE2Error as exc:
        return f"{go_quote(where)}: {exc}" + ("" if exc.meshgate_only else f"; {RE2_HINT}")
    return None


def header_name_error(name: str) -> str | None:
    """ValidateHTTPHeaderNameOrJwtClaimRoute (meshgate refuses JWT claim routing)."""
    if not name:
        return "header name cannot be empty"
    if is_jwt_claim(name):
        return f"meshgate does not support routing on JWT claims ({name})"
    if name in _PSEUDO or _TCHAR_NAME.fullmatch(name):
        return None
    return f"header name {name} is not a valid header name"


def _report_string_match(
    rep: Reporter, where: Path, sm: dict[str, Any] | None, field: str, uri: bool = False
) -> None:
    found = string_match_error(sm, field, uri)
    if found:
        rep.invalid(where, found)
    elif sm is not None and "regex" in sm:
        warn_backtracking(rep, where, sm["regex"])


def warn_backtracking(rep: Reporter, where: Path, regex: str) -> None:
    """meshgate's own warning: Python's re backtracks, so a repeated group holding a repetition (`(a+)+`) can
    take exponential time on a crafted request, where Envoy's RE2 runs in linear time."""
    if _NESTED_REPEAT.search(regex):
        msg = "can take exponential time on a crafted request in meshgate, which matches with Python's backtracking"
        rep.warn(
            where, f"regex {regex}: a repeated group holding a repetition {msg} re (Envoy's RE2 would not)"
        )


def validate_match(rep: Reporter, path: Path, match: dict[str, Any]) -> None:
    for field in ("headers", "withoutHeaders"):
        for name, sm in (match.get(field) or {}).items():
            where = (*path, field, name)
            if sm is None and field == "headers":
                rep.invalid(where, f"header match {name} cannot be null")
            found = header_name_error(name)
            if found:
                rep.invalid(where, found)
            elif not (field == "withoutHeaders" and (sm or {}).get("regex") == "*"):
                _report_string_match(rep, where, sm, field)
    for field in ("uri", "scheme", "method", "authority"):
        _report_string_match(rep, (*path, field), match.get(field), field, uri=field == "uri")
    for name, sm in (match.get("queryParams") or {}).items():
        _report_string_match(rep, (*path, "queryParams", name), sm, "queryParams")
    if match.get("port"):
        found = port_error(match["port"])
        if found:
            rep.invalid((*path, "port"), found)
    for key, message in hosts.label_errors(match.get("sourceLabels") or {}):
        rep.invalid((*path, "sourceLabels", key), message)
    report_gateway_names(rep, (*path, "gateways"), match.get("gateways") or [])
    namespace = match.get("sourceNamespace", "")
    if namespace and not hosts.is_dns1123_label(namespace):
        rep.invalid((*path, "sourceNamespace"), f"sourceNamespace match {namespace} is invalid")


def gateway_name_problems(name: str) -> list[tuple[bool, str]]:
    """validateGatewayNames for one name: (is_warning, message) pairs."""
    ns, slash, gw = name.partition("/")
    if not slash:
        out = []
        if "." in name:
            parts = name.split(".")
            recommended = f"{parts[1]}/{parts[0]}"
            msg = f"using legacy gatewayName format {go_quote(name)}; prefer the <namespace>/<name> format:"
            out.append((True, f"{msg} {go_quote(recommended)}"))
        found = hosts.fqdn_error(name)
        return out + ([(False, found)] if found else [])
    errors = ["config namespace and gateway name cannot be empty"] if not ns or not gw else []
    if not hosts.is_dns1123_label(ns):
        errors.append(f"invalid value for namespace: {go_quote(ns)}")
    if not hosts.is_dns1123_label(gw):
        errors.append(f"invalid value for gateway name: {go_quote(gw)}")
    return [(False, e) for e in errors]


def report_gateway_names(rep: Reporter, path: Path, names: list[str]) -> None:
    for i, name in enumerate(names):
        for warning, message in gateway_name_problems(name):
            (rep.warn if warning else rep.invalid)((*path, i), message)
