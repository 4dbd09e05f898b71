"""Whether an address the server is asked to connect to is on the public internet: webhook
receivers (api.webhooks) and an organisation's identity provider (organizations.sso) are
named by people who must not turn the server against the machines beside it."""

from __future__ import annotations

import ipaddress

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: str) -> bool:
    """Global unicast, and so is any IPv4 address carried inside an IPv6 one: a NAT64 or
    6to4 gateway would deliver 64:ff9b::7f00:1 or 2002:7f00:1:: to 127.0.0.1."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    seen = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            seen = [ip.ipv4_mapped]
        elif ip.sixtofour is not None:
            seen.append(ip.sixtofour)
        elif ip in _NAT64:
            seen.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(each.is_global and not each.is_multicast for each in seen)
