"""The address a request came from, for the sign-in lockout (django-axes).

``X-Forwarded-For`` is written by whoever sends the request, so it is
believed only as far as it was written by proxies this server trusts
(``TRUSTED_PROXIES``, empty by default): the address is REMOTE_ADDR, and
while that is a trusted proxy, the next address to the left in the header.
A client that sends its own header gains nothing: its entries are left of
the one the trusted proxy appended, which is the one used. Without trusted
proxies the header is ignored.

Run the ASGI server without its own proxy-header handling (uvicorn
``--no-proxy-headers``, as the demo, the image and the tests do): uvicorn's
default believes the header from 127.0.0.1, which would hand REMOTE_ADDR to
the client before this code sees it.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _trusted(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's address as far as trusted proxies vouch for it."""
    remote = request.META.get("REMOTE_ADDR")
    trusted = _trusted(tuple(settings.TRUSTED_PROXIES))
    if not trusted or not remote:
        return remote

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    current = _address(remote)
    if not is_trusted(current):
        return remote
    chain = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for hop in reversed(chain):
        address = _address(hop)
        if address is None:
            # Garbage where a proxy would have written an address: stop at
            # the last address a trusted proxy vouched for.
            return str(current)
        current = address
        if not is_trusted(current):
            return str(current)
    return str(current)
