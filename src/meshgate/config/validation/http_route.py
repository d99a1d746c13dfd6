"""istiod's validation of one VirtualService `http[]` route, and what meshgate refuses or ignores in it.

Source: istio/istio pkg/config/validation/virtualservice.go (validateHTTPRoute, validateHTTPRouteConflict,
validateAuthorityRewrite), validation.go (validateHTTPRouteDestinations, validateDestination,
validateHTTPRedirect, validateHTTPDirectResponse, validateHTTPRewrite, ValidateHTTPHeader*Name,
ValidateHTTPHeaderValue), header_value_validator.go, agent/validation.go (ValidateDuration). The matches
of a route: config/validation/virtual_service.py.
istiod's errors are unprefixed; meshgate's own refusals say `meshgate` and why (docs/routing.md).
"""

from __future__ import annotations

import re
from typing import Any

from meshgate.config.govalues import go_quote, parse_duration_ns
from meshgate.config.networking import hosts
from meshgate.config.networking.re2 import compile_re2
from meshgate.config.networking.rewrite import rewrite_error
from meshgate.config.report import Reporter
from meshgate.config.schema import Path
from meshgate.config.validation.gateway import port_error
from meshgate.config.validation.virtual_service import regex_error, validate_match, warn_backtracking

IGNORED = {  # fields istiod translates that meshgate does not apply: warned, never silently
    "retries": "retries", "fault": "fault injection", "corsPolicy": "CORS", "mirror": "mirroring",
    "mirrors": "mirroring", "mirrorPercent": "mirroring", "mirrorPercentage": "mirroring",
}  # fmt: skip
REDIRECT_CODES = (0, 301, 302, 303, 307, 308)  # what istiod's ApplyRedirect translates (route.go)
_BAD_VALUE_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_VARIABLE = re.compile(r"%(?!%)")
MB, KB = 1024 * 1024, 1024


def validate_http_routes(rep: Reporter, spec: dict[str, Any]) -> None:
    for i, http in enumerate(spec.get("http") or ()):
        if http is None:
            rep.invalid(("spec", "http", i), "http route may not be null")
        else:
            validate_http_route(rep, ("spec", "http", i), http, delegate=not spec.get("hosts"))


def validate_http_route(rep: Reporter, path: Path, http: dict[str, Any], delegate: bool) -> None:
    _validate_conflicts(rep, path, http, delegate)
    for i, match in enumerate(http.get("match") or ()):
        if match is not None:
            validate_match(rep, (*path, "match", i), match)
    _validate_headers(rep, (*path, "headers"), http.get("headers"))
    for key, what in IGNORED.items():
        if key in http:
            rep.warn((*path, key), f"meshgate does not apply {what} ({key}); it is ignored")
    _validate_redirect(rep, (*path, "redirect"), http.get("redirect"), http.get("match") or [])
    _validate_direct_response(rep, (*path, "directResponse"), http.get("directResponse"))
    _validate_rewrite(rep, (*path, "rewrite"), http.get("rewrite"), http.get("headers"))
    _validate_destinations(rep, (*path, "route"), http.get("route") or [])
    if "timeout" in http:
        _validate_duration(rep, (*path, "timeout"), http["timeout"])


def _validate_conflicts(rep: Reporter, path: Path, http: dict[str, Any], delegate: bool) -> None:
    """validateHTTPRouteConflict (a message or field set to `{}` counts as set, as a non-nil Go pointer)."""

    def has(key: str) -> bool:
        return bool(http.get(key)) if key == "route" else key in http

    if "delegate" in http and not delegate:
        for key in ("redirect", "route"):
            if has(key):
                rep.invalid((*path, key), f"root HTTP route {http.get('name', '')} must not specify {key}")
        rep.invalid(
            (*path, "delegate"), "meshgate does not support delegate VirtualServices (http[].delegate)"
        )
        return
    if "delegate" in http:
        rep.invalid((*path, "delegate"), "delegate HTTP route cannot contain delegate")
    if has("redirect"):
        conflicts: tuple[tuple[str, str], ...] = (
            ("route", "HTTP route cannot contain both route and redirect"),
            ("fault", "HTTP route cannot contain both fault and redirect"),
            ("rewrite", "HTTP route rule cannot contain both rewrite and redirect"),
            ("directResponse", "HTTP route rule cannot contain both direct_response and redirect"),
        )
    elif has("directResponse"):
        conflicts = (
            ("route", "HTTP route cannot contain both route and direct_response"),
            ("fault", "HTTP route cannot contain both fault and direct_response"),
            ("rewrite", "HTTP route rule cannot contain both rewrite and direct_response"),
        )
    else:
        conflicts = ()
        if not has("route"):
            rep.invalid(path, "HTTP route, redirect or direct_response is required", about=[(*path, "route")])
    for key, text in conflicts:
        if has(key):
            rep.invalid((*path, key), text)
    if has("mirror") and http.get("mirrors"):
        rep.invalid((*path, "mirrors"), "HTTP route cannot contain both mirror and mirrors")


def header_value_error(value: str) -> str | None:
    """ValidateHTTPHeaderValue, then meshgate's rule: a value is a literal (`%%` is `%`), no %VAR% formatter."""
    if _BAD_VALUE_CHARS.search(value):
        return f"header value configuration {value} is invalid"
    if _VARIABLE.search(value.replace("%%", "")):
        return f"meshgate sets header values literally: Envoy's %VARIABLE% formatters are not supported ({value})"
    return None


def _validate_headers(rep: Reporter, path: Path, headers: dict[str, Any] | None) -> None:
    for side in ("request", "response"):
        ops = (headers or {}).get(side) or {}
        for op in ("set", "add"):
            for name, value in (ops.get(op) or {}).items():
                where = (*path, side, op, name)
                found = _operation_name_error(name, authority_ok=side == "request")
                if found:
                    rep.invalid(where, found)
                found = header_value_error(value)
                if found:
                    rep.invalid(where, found)
        for i, name in enumerate(ops.get("remove") or ()):
            found = _operation_name_error(name, authority_ok=False)
            if found:
                rep.invalid((*path, side, "remove", i), found)


def _operation_name_error(name: str, authority_ok: bool) -> str | None:
    """ValidateHTTPHeaderWithAuthorityOperationName / ValidateHTTPHeaderOperationName."""
    if not name:
        return "header name cannot be empty"
    authority = name.lower() in (":authority", "host")
    if authority_ok and authority:
        return None
    if name.lower() == "host":
        return f"invalid header {go_quote(name)}: cannot set Host header"
    if name.startswith(":"):
        return f'invalid header {go_quote(name)}: header cannot have ":" prefix'
    return None


def _validate_destinations(rep: Reporter, path: Path, routes: list[dict[str, Any] | None]) -> None:
    total = 0
    for i, route in enumerate(routes):
        where = (*path, i)
        if route is None:
            rep.invalid(where, "weight may not be nil")
            continue
        _validate_headers(rep, (*where, "headers"), route.get("headers"))
        destination = route.get("destination")
        if destination is None:
            rep.invalid(where, "destination is required", about=[(*where, "destination")])
        else:
            _validate_destination(rep, (*where, "destination"), destination)
        weight = route.get("weight", 0)
        if weight < 0:
            rep.invalid((*where, "weight"), f"weight {weight} < 0")
        total += weight
    if len(routes) > 1 and total == 0:
        rep.invalid(path, "total destination weight = 0")


def _validate_destination(rep: Reporter, path: Path, destination: dict[str, Any]) -> None:
    host = destination.get("host", "")
    found = "invalid destination host *" if host == "*" else hosts.wildcard_domain_error(host)
    if found:
        rep.invalid((*path, "host"), found)
    if "subset" in destination:
        subset = destination["subset"]
        if not subset or not hosts.is_dns1123_label(subset):
            rep.invalid(
                (*path, "subset"),
                "subset name cannot be empty" if not subset else f"subset name is invalid: {subset}",
            )
        else:
            rep.invalid(
                (*path, "subset"), f"meshgate loads no DestinationRule: subset {subset} cannot be resolved"
            )
    port = (destination.get("port") or {}).get("number")
    if "port" in destination and port_error(port or 0):
        rep.invalid((*path, "port"), port_error(port or 0) or "")


def _validate_redirect(
    rep: Reporter, path: Path, redirect: dict[str, Any] | None, matches: list[Any]
) -> None:
    """validateHTTPRedirect (which reports only its first problem), then meshgate's redirect codes."""
    if redirect is None:
        return
    code = redirect.get("redirectCode", 0)
    if redirect.get("uri") and redirect.get("prefixRewrite"):
        found: str | None = "redirect may only specify one of uri or prefix_rewrite"
    elif redirect.get("prefixRewrite") and any(
        m and m.get("uri") and "prefix" not in m["uri"] for m in matches
    ):
        found = "redirect prefix_rewrite requires all URI matches to use prefix match type"
    elif not any(redirect.get(k) for k in ("uri", "prefixRewrite", "authority", "scheme")) and not (
        "port" in redirect or "derivePort" in redirect
    ):
        found = "redirect must specify URI, authority, scheme, or port"
    elif code and not 300 <= code <= 399:
        found = f"{code} is not a valid redirect code, must be 3xx"
    elif redirect.get("scheme", "") not in ("", "http", "https"):
        found = 'invalid redirect scheme, must be "http" or "https"'
    else:
        found = port_error(redirect["port"]) if redirect.get("port") else None
    if found:
        rep.invalid(path, found)
    elif code not in REDIRECT_CODES:
        rep.invalid(
            (*path, "redirectCode"),
            f"meshgate: istiod translates only redirect codes 301, 302, 303, 307 and 308, not {code}",
        )


def _validate_direct_response(rep: Reporter, path: Path, direct: dict[str, Any] | None) -> None:
    if direct is None:
        return
    body = direct.get("body") or {}
    size = len((body.get("string") or "").encode()) + len(body.get("bytes") or b"")
    if size > MB:
        rep.invalid(
            (*path, "body"),
            "large direct_responses may impact control plane performance, must be less than 1MB",
        )
    elif size > 100 * KB:
        rep.warn((*path, "body"), "large direct_responses may impact control plane performance")
    status = direct.get("status", 0)
    if status < 200 or status > 600:
        rep.invalid((*path, "status"), f"HTTP status {status} is not in range 200-599")


def _validate_rewrite(rep: Reporter, path: Path, rewrite: dict[str, Any] | None, headers: Any) -> None:
    if rewrite is not None:
        regex = rewrite.get("uriRegexRewrite")
        if rewrite.get("uri") and regex is not None:
            rep.invalid(path, "rewrite may only contain one of URI or UriRegexRewrite")
        elif not rewrite.get("uri") and regex is None and not rewrite.get("authority"):
            msg = "rewrite must specify at least one of URI, UriRegexRewrite, or authority."
            rep.invalid(path, msg + " Only one of URI or UriRegexRewrite may be specified")
        if regex is not None:
            _validate_regex_rewrite(rep, (*path, "uriRegexRewrite"), regex)
    current = (rewrite or {}).get("authority", "")
    request = (headers or {}).get("request") or {}
    for op in ("set", "add"):
        for name, value in (request.get(op) or {}).items():
            if name.lower() in (":authority", "host"):
                if current:
                    msg = f"authority header cannot be set multiple times: have {go_quote(current)}, attempting to set"
                    rep.invalid((*path[:-1], "headers", "request", op, name), f"{msg} {go_quote(value)}")
                    return
                current = value


def _validate_regex_rewrite(rep: Reporter, path: Path, regex: dict[str, Any]) -> None:
    match, rewrite = regex.get("match", ""), regex.get("rewrite", "")
    if not match or not rewrite:
        rep.invalid(
            path,
            "UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match fields to be specified",
        )
        return
    found = regex_error(match, "HTTPRewrite.UriRegexRewrite.Match")
    if found:
        rep.invalid((*path, "match"), f"UriRegexRewrite has errors: {found}")
        return
    found = rewrite_error(compile_re2(match), rewrite)
    if found:
        rep.invalid((*path, "rewrite"), f"meshgate: {found}")
    warn_backtracking(rep, (*path, "match"), match)


def _validate_duration(rep: Reporter, path: Path, text: str) -> None:
    ns = parse_duration_ns(text)
    if ns is None:
        rep.error(path, "must be a valid duration greater than 1ms")  # CRD CEL
    elif ns < 1_000_000:
        rep.invalid(path, "duration must be greater than 1ms")
    elif ns % 1_000_000:
        rep.invalid(path, "only durations to ms precision are supported")
