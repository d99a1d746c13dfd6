"""Envoy's "downstream remote address" for `remoteIpBlocks` / `remote.ip` (docs/istio-semantics.md §5.6).

A gateway (`use_remote_address: true`) with `xff_num_trusted_hops = N`: N = 0 → the TCP peer;
N > 0 → skip the N−1 right-most X-Forwarded-For entries and take the next one from the right,
falling back to the TCP peer when the header is missing, too short, or that entry is not an IP
(envoyproxy/envoy:source/common/http/utility.cc getLastAddressFromXFF).
"""

from __future__ import annotations

import ipaddress

from meshgate.engine.attributes import RequestAttributes


def remote_ip(attrs: RequestAttributes, trusted_proxies: int) -> str:
    if trusted_proxies <= 0:
        return attrs.peer_ip
    xff = attrs.header("x-forwarded-for")
    if not xff:
        return attrs.peer_ip
    entries = xff.split(",")
    if len(entries) < trusted_proxies:
        return attrs.peer_ip
    candidate = entries[len(entries) - trusted_proxies].strip()
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return attrs.peer_ip
    return candidate
