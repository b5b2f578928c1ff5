"""Who is calling and over what: the client address and scheme, behind trusted proxies only.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the direct peer is one of
the configured ``trusted_proxies``; otherwise anyone could pick their own rate-limit bucket by
sending the header.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiohttp import web


def _trusted(address: str, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    request: web.BaseRequest, trusted: Sequence[IPv4Network | IPv6Network] = ()
) -> str:
    """The caller's address: the peer, or (behind trusted proxies) the nearest untrusted
    address of ``X-Forwarded-For``."""
    peer = request.remote or "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    hops = [h for h in hops if h]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def is_https(request: web.BaseRequest, trusted: Sequence[IPv4Network | IPv6Network] = ()) -> bool:
    """Whether the client's request came over https (told by a trusted proxy, or direct)."""
    if request.secure:
        return True
    peer = request.remote or ""
    if trusted and _trusted(peer, trusted):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https"
    return False
