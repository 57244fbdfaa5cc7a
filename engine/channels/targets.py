"""Where webhooks and robots may post: never to link-local or cloud metadata addresses, and, when the
deployment lists its webhook hosts, only to those.

A union's intranet may well run its own WeCom or DingTalk, or a receiver on a private address, so
private and loopback addresses are allowed. Link-local addresses (169.254.0.0/16, fe80::/10) and
the clouds' metadata services are never a receiver: a webhook pointed there would hand the
server's cloud credentials to whoever set it. The check runs when a target is set (the address
as written) and again before each send, on every address the name resolves to then.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network": reaches the server itself on some systems
        "169.254.0.0/16",  # link-local, with the metadata service of AWS, Azure, GCP, Tencent Cloud
        "100.100.100.200/32",  # Alibaba Cloud's metadata service
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/128",
        "fe80::/10",  # link-local
        "fd00:ec2::254/128",  # AWS's metadata service over IPv6
        "ff00::/8",  # multicast
    )
)
REFUSED_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.tencentyun.com"})


class TargetRefused(ValueError):
    """A webhook target this deployment does not post to; the message names the host and why."""


def parse_hosts(value: str) -> tuple[str, ...]:
    """DUBAN_WEBHOOK_HOSTS: comma-separated host names; `*.example.cn` is the domain and its subdomains."""
    return tuple(h.strip().lower().rstrip(".") for h in value.split(",") if h.strip())


def _listed(host: str, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        if entry.startswith("*."):
            if host == entry[2:] or host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


def refused_address(address: IPAddress) -> bool:
    """Whether a webhook may never post to this address (IPv4 written as IPv6 counts as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in ALWAYS_REFUSED)


def check_target(url: str, allowed: Sequence[str] = ()) -> str:
    """The URL's host, if a webhook may post there as written; TargetRefused says why not."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        raise TargetRefused(f"{url!r} names no host")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if host in REFUSED_NAMES or (literal is not None and refused_address(literal)):
        raise TargetRefused(
            f"webhook host {host} is a link-local or cloud metadata address; webhooks never post there"
        )
    if allowed and not _listed(host, allowed):
        raise TargetRefused(
            f"webhook host {host} is not among the hosts this deployment allows (DUBAN_WEBHOOK_HOSTS)"
        )
    return host


def check_resolved(host: str, addresses: Iterable[str]) -> None:
    """Refuse a host whose name resolves to a refused address (checked again before every send)."""
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        if refused_address(address):
            raise TargetRefused(
                f"webhook host {host} resolves to {address}, a link-local or cloud metadata address; "
                "webhooks never post there"
            )


def check_before_sending(url: str, allowed: Sequence[str] = ()) -> None:
    """`check_target`, then every address the host resolves to now. A name that does not resolve is
    left to the HTTP client, which fails it as a connection error (retried)."""
    host = check_target(url, allowed)
    parts = urlsplit(url)
    try:
        found = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        return
    check_resolved(host, (str(info[4][0]) for info in found))
