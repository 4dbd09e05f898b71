"""The address of the client behind our own proxies, for rate limits and the audit log."""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(proxies: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: tuple[_Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The first address, from the right, that is not one of our proxies.

    X-Forwarded-For is believed only when the peer is a configured proxy (TRUSTED_PROXIES),
    and only as far back as the chain runs through configured proxies: anything to the left
    of the first foreign address was written by the client and could be anything.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _trusted(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _is_trusted(remote, networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                # A proxy of ours wrote this hop, so garbage here means a misconfigured proxy;
                # the proxy's own address is the most honest answer left.
                return remote
    return hops[0] if hops else remote
