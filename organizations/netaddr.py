"""Whether an address the server is asked to connect to is on the public internet: webhook
receivers (api.webhooks) and an organisation's identity provider (organizations.sso) are
named by people who must not turn the server against the machines beside it."""

from __future__ import annotations

import ipaddress

# IPv6 prefixes whose last 32 bits are an IPv4 address some gateway or stack delivers to:
# the well-known NAT64 prefix, the deprecated IPv4-compatible addresses and SIIT's
# IPv4-translated ones. Python counts the last two as global.
_LOW32_IPV4 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
)
# A network's own NAT64 prefix (RFC 8215): it reaches whatever that network's gateway
# translates to, its private addresses included, wherever the IPv4 part sits.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def is_public(address: str) -> bool:
    """Global unicast, and so is any IPv4 address carried inside an IPv6 one: a NAT64 or
    6to4 gateway would deliver 64:ff9b::7f00:1 or 2002:7f00:1:: to 127.0.0.1."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    seen = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        if ip.ipv4_mapped is not None:
            seen = [ip.ipv4_mapped]
        elif ip.sixtofour is not None:
            seen.append(ip.sixtofour)
        elif any(ip in network for network in _LOW32_IPV4):
            seen.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(each.is_global and not each.is_multicast for each in seen)
