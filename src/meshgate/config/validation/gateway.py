"""istiod's validation of Gateway and ServiceEntry (where traffic enters, where it goes), message for message.

Source: istio/istio pkg/config/validation/validation.go (ValidateGateway, validateServer,
validateServerPort, validateServerBind, validateTLSOptions, ValidateServiceEntry, validateWorkloadEntry,
ValidatePortName, ValidateProtocol), agent/validation.go (ValidatePort, ValidateIPSubnet),
pkg/config/protocol/instance.go (Parse). What meshgate then serves of a valid Gateway (HTTP and HTTPS
with tls.mode SIMPLE) is decided when the routing table is built (routing/table.py), not here.
"""

from __future__ import annotations

from typing import Any

from meshgate.config.govalues import go_quote, parse_prefix_error
from meshgate.config.networking import hosts
from meshgate.config.report import Reporter
from meshgate.config.schema import Path

PROTOCOLS = frozenset({"tcp", "udp", "grpc", "grpc-web", "http", "http_proxy", "http2", "https", "tls", "mongo",
                       "redis", "mysql"})  # fmt: skip
HTTP_PROTOCOLS = frozenset({"http", "http2", "http_proxy", "grpc", "grpc-web"})  # protocol.IsHTTP
TLS_PROTOCOLS = frozenset({"https", "tls"})  # protocol.IsTLS
BAD_PROTOCOL = (
    "invalid protocol {}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP"
)
CERT_SOURCES = (
    "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates"
)


def port_error(number: int) -> str | None:
    return None if 1 <= number <= 65535 else f"port number {number} must be in the range 1..65535"


def validate_gateway(rep: Reporter, spec: dict[str, Any], name: str) -> None:
    if not hosts.is_dns1123_label(name):
        rep.invalid(("metadata", "name"), f"invalid gateway name: {go_quote(name)}")
    servers = spec.get("servers")
    if not servers:
        rep.invalid(("spec", "servers"), "gateway must have at least one server")
    names: set[str] = set()
    for i, server in enumerate(servers or ()):
        path: Path = ("spec", "servers", i)
        if server is None:
            rep.invalid(path, "cannot have nil server")
            continue
        _validate_server(rep, path, server)
        port = server.get("port")
        if port is not None:
            if port.get("name", "") in names:
                rep.invalid(
                    (*path, "port", "name"),
                    f"port names in servers must be unique: duplicate name {port.get('name', '')}",
                )
            names.add(port.get("name", ""))
            if port.get("protocol", "").lower() not in HTTP_PROTOCOLS and (server.get("tls") or {}).get(
                "httpsRedirect"
            ):
                rep.warn(
                    (*path, "tls", "httpsRedirect"), "tls.httpsRedirect should only be used with http servers"
                )


def _validate_server(rep: Reporter, path: Path, server: dict[str, Any]) -> None:
    server_hosts = server.get("hosts")
    if not server_hosts:
        rep.invalid((*path, "hosts"), "server config must contain at least one host")
    for j, host in enumerate(server_hosts or ()):
        for message in hosts.gateway_host_errors(host):
            rep.invalid((*path, "hosts", j), message)
    port = server.get("port")
    port_ok = _validate_port(rep, (*path, "port"), port)
    bind = server.get("bind", "")
    if bind.startswith("unix://"):
        rep.invalid((*path, "bind"), "meshgate listens on TCP only: a unix:// bind is not supported")
    elif bind and not hosts.is_ip(bind):
        rep.invalid((*path, "bind"), f"{bind} is not a valid IP")
    tls = server.get("tls")
    if tls is not None:
        _validate_tls(rep, (*path, "tls"), tls)
    if port_ok and port is not None:
        protocol = port["protocol"].lower()
        if protocol in TLS_PROTOCOLS and tls is None:
            rep.invalid(path, "server must have TLS settings for HTTPS/TLS protocols")
        elif protocol not in TLS_PROTOCOLS and tls is not None:
            passthrough = tls.get("mode", "PASSTHROUGH") in ("PASSTHROUGH", "AUTO_PASSTHROUGH")
            certs = any(tls.get(k) for k in ("caCertificates", "privateKey", "serverCertificate"))
            if protocol not in HTTP_PROTOCOLS:
                rep.invalid((*path, "tls"), "server cannot have TLS settings for non HTTPS/TLS ports")
            elif not passthrough or certs:
                rep.invalid((*path, "tls"), "server cannot have TLS settings for plain text HTTP ports")


def _validate_port(rep: Reporter, path: Path, port: dict[str, Any] | None) -> bool:
    """validateServerPort; True when it found nothing wrong."""
    if port is None:
        rep.invalid(path, "port is required")
        return False
    before = len(rep.problems)
    protocol = port.get("protocol", "")
    if protocol.lower() not in PROTOCOLS:
        rep.invalid((*path, "protocol"), BAD_PROTOCOL.format(go_quote(protocol)))
    found = port_error(port.get("number", 0))
    if found:
        rep.invalid((*path, "number"), found)
    if port.get("targetPort", 0) > 0:
        rep.invalid((*path, "targetPort"), "targetPort has no impact on Gateways")
    if not port.get("name"):
        rep.invalid(
            (*path, "name"),
            f"port name must be set: number:{port.get('number', 0)} protocol:{go_quote(protocol)}",
        )
    return len(rep.problems) == before and not any(r[: len(path)] == path for r in rep.refused)


def _validate_tls(rep: Reporter, path: Path, tls: dict[str, Any]) -> None:
    """validateTLSOptions (cipher suites and protocol versions are not checked: meshgate does not apply them)."""
    mode = tls.get("mode", "PASSTHROUGH")
    if mode == "ISTIO_MUTUAL":
        for key, text in (("serverCertificate", "server certificate"), ("privateKey", "private key"),
                          ("caCertificates", "CA bundle"), ("tlsCertificates", "tlsCertificates"),
                          ("credentialName", "credentialName"), ("credentialNames", "credentialNames")):  # fmt: skip
            if tls.get(key):
                rep.invalid((*path, key), f"ISTIO_MUTUAL TLS cannot have associated {text}")
        return
    certs = ("caCrl", "serverCertificate", "privateKey", "caCertificates", "tlsCertificates", "credentialName",
             "credentialNames")  # fmt: skip
    if mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH") and any(tls.get(k) for k in certs):
        rep.warn(path, f"{mode} mode does not use certificates, they will be ignored")
    sources = sum((bool(tls.get("serverCertificate") and tls.get("privateKey")), bool(tls.get("credentialName")),
                   bool(tls.get("credentialNames")), bool(tls.get("tlsCertificates"))))  # fmt: skip
    if sources > 1:
        rep.invalid(path, f"{CERT_SOURCES} should be specified")
    mutual = mode in ("MUTUAL", "OPTIONAL_MUTUAL")
    if (mode == "SIMPLE" or mutual) and not (tls.get("credentialName") or tls.get("credentialNames")):
        prefix = "MUTUAL TLS" if mutual else "SIMPLE TLS"
        if mutual and not tls.get("caCertificates"):
            rep.invalid(path, f"{prefix} requires a client CA bundle")
        for cert in tls.get("tlsCertificates") or [tls]:
            if not (cert or {}).get("serverCertificate"):
                rep.invalid(path, f"{prefix} requires a server certificate")
            if not (cert or {}).get("privateKey"):
                rep.invalid(path, f"{prefix} requires a private key")
    if tls.get("caCrl") and tls.get("credentialName"):
        rep.invalid(
            (*path, "caCrl"),
            "CRL is not supported with credentialName. CRL has to be specified in the credential",
        )
    if tls.get("caCrl") and mode == "SIMPLE":
        rep.invalid((*path, "caCrl"), "CRL is not supported with SIMPLE TLS")


def validate_service_entry(rep: Reporter, spec: dict[str, Any], namespace: str) -> None:
    selector, endpoints = spec.get("workloadSelector"), spec.get("endpoints")
    if selector is not None and endpoints is not None:
        rep.invalid(
            ("spec", "workloadSelector"),
            "only one of WorkloadSelector or Endpoints is allowed in Service Entry",
        )
    se_hosts = spec.get("hosts") or []
    resolution = spec.get("resolution", "NONE")
    if not se_hosts:
        rep.invalid(("spec", "hosts"), "service entry must have at least one host")
    for i, host in enumerate(se_hosts):
        found = f"invalid host {host}" if host == "*" else hosts.wildcard_domain_error(host)
        if found:
            rep.invalid(("spec", "hosts", i), found)
        partial = hosts.partial_wildcard_error(host) if host != "*" and resolution != "DYNAMIC_DNS" else None
        if partial:
            rep.warn(("spec", "hosts", i), partial)
    for i, address in enumerate(spec.get("addresses") or ()):  # agent.ValidateIPSubnet
        if address.count("/") == 1 and parse_prefix_error(address):
            rep.invalid(("spec", "addresses", i), f"{address} is not a valid CIDR block")
        elif address.count("/") != 1 and not hosts.is_ip(address):
            rep.invalid(("spec", "addresses", i), f"{address} is not a valid IP")
    ports = spec.get("ports") or []
    names = _validate_service_ports(rep, ports)
    for i, endpoint in enumerate(endpoints or ()):
        _validate_endpoint(rep, ("spec", "endpoints", i), endpoint, names, resolution)
    if resolution == "NONE" and endpoints:
        rep.invalid(("spec", "endpoints"), "no endpoints should be provided for resolution type none")
    if resolution in ("DNS", "DNS_ROUND_ROBIN") and not endpoints:
        for host in se_hosts:
            found = hosts.fqdn_error(host)
            if found:
                msg = "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided"
                rep.invalid(("spec", "hosts"), f"{msg} for resolution mode {resolution}, {found}")
                break
    if resolution == "DNS_ROUND_ROBIN" and len(endpoints or ()) > 1:
        rep.invalid(
            ("spec", "endpoints"), f"there must only be 0 or 1 endpoint for resolution mode {resolution}"
        )
    http_or_tls = HTTP_PROTOCOLS | TLS_PROTOCOLS
    if (
        resolution != "NONE"
        and len(se_hosts) > 1
        and any(p is not None and p.get("protocol", "").lower() not in http_or_tls for p in ports)
    ):
        rep.invalid(("spec", "ports"), "multiple hosts provided with non-HTTP, non-TLS ports")
    for index, message in hosts.export_to_errors(namespace, spec.get("exportTo") or [], service_entry=True):
        rep.invalid(("spec", "exportTo", index) if index >= 0 else ("spec", "exportTo"), message)


def _validate_service_ports(rep: Reporter, ports: list[dict[str, Any] | None]) -> set[str]:
    names: set[str] = set()
    numbers: set[int] = set()
    for i, port in enumerate(ports):
        path: Path = ("spec", "ports", i)
        if port is None:
            rep.invalid(path, "service entry port may not be null")
            continue
        name, number = port.get("name", ""), port.get("number", 0)
        if name in names:
            rep.invalid((*path, "name"), f"service entry port name {go_quote(name)} already defined")
        if number in numbers:
            rep.invalid((*path, "number"), f"service entry port {number} already defined")
        names.add(name)
        numbers.add(number)
        for key, found in (("targetPort", port_error(port["targetPort"]) if port.get("targetPort") else None),
                           ("name", None if hosts.is_dns1123_label(name) else f"invalid port name: {name}"),
                           ("protocol", _protocol_error(port.get("protocol", ""))),
                           ("number", port_error(number))):  # fmt: skip
            if found:
                rep.invalid((*path, key), found)
    return names


def _protocol_error(protocol: str) -> str | None:
    return None if not protocol or protocol.lower() in PROTOCOLS else f"unsupported protocol: {protocol}"


def _validate_endpoint(
    rep: Reporter, path: Path, endpoint: dict[str, Any] | None, names: set[str], res: str
) -> None:
    if endpoint is None:
        rep.invalid(path, "endpoint cannot be nil")
        return
    address = endpoint.get("address", "")
    if res == "STATIC":
        if not address and not endpoint.get("network"):
            rep.invalid(path, "address is required")
        elif address.startswith("unix://"):
            rep.invalid(
                (*path, "address"), "meshgate connects over TCP only: a unix:// endpoint is not supported"
            )
        elif address and not hosts.is_ip(address):
            rep.invalid((*path, "address"), f"endpoint address {go_quote(address)} is not a valid IP address")
    elif res in ("DNS", "DNS_ROUND_ROBIN") and not hosts.is_ip(address) and hosts.fqdn_error(address):
        rep.invalid(
            (*path, "address"), f"endpoint address {go_quote(address)} is not a valid FQDN or an IP address"
        )
    for name, number in (endpoint.get("ports") or {}).items():
        where = (*path, "ports", name)
        if name not in names:
            rep.invalid(where, f"endpoint port {number} is not defined by the service entry")
        if not hosts.is_dns1123_label(name):
            rep.invalid(where, f"invalid port name: {name}")
        found = port_error(number) if number is not None else None
        if found:
            rep.invalid(where, found)
    for key, message in hosts.label_errors(endpoint.get("labels") or {}):
        rep.invalid((*path, "labels", key), message)
