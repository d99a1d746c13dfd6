"""Ports and IP blocks: `ports`, `ipBlocks`, `remoteIpBlocks` and their `when` keys, compiled to predicates.

Sources: istio/istio pilot/pkg/security/authz/model/generator.go (convertToPort, the ip generators) and
pkg/util (AddrStrToCidrRange): an address is a /32 or /128, a CIDR may have host bits set; a value that
does not parse is `Unparsable` (conditions.py says what that does to the rule).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from functools import lru_cache

from meshgate.authz.match import Unparsable
from meshgate.authz.request import AuthzRequest, Predicate

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def port_set(values: Sequence[str], strict: bool) -> Predicate | None:
    """convertToPort: strconv.ParseUint(v, 10, 32) ≤ 65535 (destination.port / ports)."""
    ports: set[int] = set()
    for value in values:
        if value.isascii() and value.isdigit() and int(value) <= 65535:
            ports.add(int(value))
        elif strict:
            raise Unparsable(f"invalid port {value}")
    if not ports:
        return None
    frozen = frozenset(ports)
    return lambda r: r.port in frozen


def _network(value: str) -> IpNetwork:
    """util.AddrStrToCidrRange: an address (a /32 or /128) or a CIDR; host bits may be set."""
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as err:
        raise Unparsable(f"bad IP address or CIDR range ({value})") from err


@lru_cache(maxsize=4096)
def parse_ip(text: str) -> IpAddress | None:
    """The request's address parsed once per distinct value (cached: no parse on the hot path)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def ip_field(attribute: Callable[[AuthzRequest], str]) -> Callable[[Sequence[str], bool], Predicate | None]:
    def build(values: Sequence[str], strict: bool) -> Predicate | None:
        networks: list[IpNetwork] = []
        for value in values:
            try:
                networks.append(_network(value))
            except Unparsable:
                if strict:
                    raise
        if not networks:
            return None
        nets = tuple(networks)

        def matches(r: AuthzRequest) -> bool:
            addr = parse_ip(attribute(r))
            return addr is not None and any(addr.version == n.version and addr in n for n in nets)

        return matches

    return build
