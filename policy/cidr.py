"""CIDR arithmetic for NetworkPolicy ipBlocks and security groups."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Instance metadata endpoints (IPv4 and IPv6).
IMDS = ("169.254.169.254/32", "fd00:ec2::254/128")
OPEN = ("0.0.0.0/0", "::/0")


def network(value: object) -> Network | None:
    """A parsed network, or ``None`` if ``value`` is not a CIDR."""
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def excluded(cidr: str, excepts: Iterable[str], target: str) -> bool:
    """Whether ``target`` is unreachable through ``cidr`` minus ``excepts``.

    True when ``target`` lies outside ``cidr`` or inside one of the exceptions.
    """
    block, goal = network(cidr), network(target)
    if block is None or goal is None or block.version != goal.version:
        return True
    if not goal.overlaps(block):
        return True
    for item in excepts:
        net = network(item)
        if net is not None and net.version == goal.version and goal.subnet_of(net):  # type: ignore[arg-type]
            return True
    return False


def is_open(value: object) -> bool:
    """``0.0.0.0/0`` or ``::/0``."""
    net = network(value)
    return net is not None and net.prefixlen == 0
