"""What the web server checks about a request and its settings, as plain functions: that our
own page's script sent it, whom it counts as (the client address), where the quick exit leads."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV6_PREFIX = 64
"""An IPv6 client is counted by its /64: one household or office holds a whole /64, so
counted by single address it could begin as many conversations as it likes."""


def same_origin(request: web.Request) -> bool:
    """True for a request our own page's script made. With Referrer-Policy no-referrer a
    same-origin POST carries `Origin: null`, so "null" passes only with `Sec-Fetch-Site:
    same-origin`. A reverse proxy must pass `Host` through unchanged (docs/web.md)."""
    if request.headers.get("X-Lotse") != "1":
        return False
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":
        return site == "same-origin"
    return urlsplit(origin).netloc.lower() == request.host.lower()


def client_key(remote: str | None, proxies: frozenset[IPAddress], key: bytes) -> str | None:
    """Whom `web.new_per_address` counts: the peer's address as aiohttp gives it (no
    header is read: a client could write any), an IPv6 one by its /64, as a keyed hash.
    None for a reverse proxy (`web.proxy_addresses`: many people share its address) and a
    peer without an IP address."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in proxies:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False)
        packed = network.network_address.packed
    else:
        packed = address.packed
    return hashlib.blake2b(packed, key=key, digest_size=16).hexdigest()


def safe_exit_url(url: str) -> str:
    """The configured exit, if it is a web address or about:blank; else about:blank."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https") or url == "about:blank":
        return url
    log.warning("web.exit_url must be an http(s) address or about:blank; using about:blank")
    return "about:blank"
