"""CIDR arithmetic: what a set of blocks covers, however it is split.

Rules judge address space, never spelling: ``0.0.0.0/1`` plus ``128.0.0.0/1`` is the whole
IPv4 internet exactly as ``0.0.0.0/0`` is, and an ``except`` list takes addresses away
whatever block it is written under. :func:`covered` reduces blocks minus exceptions to
the disjoint networks they leave; every other question (open? reaches IMDS? only inside
the database subnets?) is asked of that set.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Instance metadata endpoints (IPv4 and IPv6).
IMDS = ("169.254.169.254/32", "fd00:ec2::254/128")
#: Link-local ranges: IMDS, the Amazon DNS and time servers, EKS Pod Identity (IPv4 and
#: the EC2 IPv6 link-local block ``fd00:ec2::/32``), and IPv6 link-local proper.
LINK_LOCAL = ("169.254.0.0/16", "fd00:ec2::/32", "fe80::/10")
OPEN = ("0.0.0.0/0", "::/0")
#: Addresses that are never "the internet": RFC 1918, shared address space (CGNAT),
#: loopback, link-local, and IPv6 unique-local, link-local and loopback.
NON_PUBLIC = ("10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10", "::1/128")
#: Private ranges other workloads of a cluster or VPC can hold: RFC 1918, shared address
#: space (custom pod networks) and IPv6 unique-local.
PRIVATE = ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
#: Public address space at least this large (a /12 of IPv4, a /32 of IPv6: a whole provider's
#: allocation) counts as open to the internet: no allow-list of known clients (offices,
#: runners, partners) is that big, and a split of 0.0.0.0/0 into rules that each stay below
#: it needs thousands of them.
OPEN_PREFIX = {4: 12, 6: 32}


def network(value: object) -> Network | None:
    """A parsed network, or ``None`` if ``value`` is not a CIDR."""
    if not isinstance(value, str):
        return None
    return _parsed(value)


#: Parsed once per distinct text: a plan asks about the same few CIDRs (the cell's VPC,
#: the pod network, IMDS) for every security group, network policy and subnet; networks
#: are immutable, so sharing them is safe.
@lru_cache(maxsize=4096)
def _parsed(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def networks(values: Iterable[object]) -> list[Network]:
    """The values that parse as CIDRs (others are ignored: they cover nothing)."""
    return [n for n in (network(v) for v in values) if n is not None]


def _subtract(nets: list[Network], hole: Network) -> list[Network]:
    result: list[Network] = []
    for net in nets:
        if net.version != hole.version or not net.overlaps(hole):
            result.append(net)
        elif net.subnet_of(hole):  # type: ignore[arg-type]
            continue
        else:
            result.extend(net.address_exclude(hole))  # type: ignore[arg-type]
    return result


def collapse(nets: Iterable[Network]) -> list[Network]:
    """Disjoint, merged networks (IPv4 first, then IPv6)."""
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    merged: list[Network] = []
    merged.extend(ipaddress.collapse_addresses(v4))
    merged.extend(ipaddress.collapse_addresses(v6))
    return merged


def covered(blocks: Iterable[object], excepts: Iterable[object] = ()) -> list[Network]:
    """The disjoint networks that ``blocks`` cover once every ``excepts`` entry is removed."""
    # Only strings can be CIDRs (everything else covers nothing), so they are the whole key.
    return list(_covered(tuple(v for v in blocks if isinstance(v, str)),
                         tuple(v for v in excepts if isinstance(v, str))))


@lru_cache(maxsize=4096)
def _covered(blocks: tuple[str, ...], excepts: tuple[str, ...]) -> tuple[Network, ...]:
    nets = collapse(networks(blocks))
    for hole in networks(excepts):
        nets = _subtract(nets, hole)
    return tuple(collapse(nets))


def union(*sets: Iterable[Network]) -> list[Network]:
    """The union of covered sets."""
    return collapse([n for s in sets for n in s])


def intersect(nets: Sequence[Network], others: Sequence[Network]) -> list[Network]:
    """The addresses in both sets."""
    return list(_intersect(tuple(nets), tuple(others)))


# Networks are immutable and hashable: the set operations are kept per distinct operands
# (the same blocks minus the same non-public ranges, policy after policy).
@lru_cache(maxsize=4096)
def _intersect(nets: tuple[Network, ...], others: tuple[Network, ...]) -> tuple[Network, ...]:
    found: list[Network] = []
    for a in nets:
        for b in others:
            if a.version == b.version and a.overlaps(b):
                found.append(a if a.subnet_of(b) else b)  # type: ignore[arg-type]
    return tuple(collapse(found))


def minus(nets: Sequence[Network], holes: Sequence[Network]) -> list[Network]:
    """The addresses of ``nets`` outside ``holes``."""
    return list(_minus(tuple(nets), tuple(holes)))


@lru_cache(maxsize=4096)
def _minus(nets: tuple[Network, ...], holes: tuple[Network, ...]) -> tuple[Network, ...]:
    result = list(nets)
    for hole in holes:
        result = _subtract(result, hole)
    return tuple(collapse(result))


def reaches(nets: Sequence[Network], target: object) -> bool:
    """Whether any address of ``target`` (a CIDR) lies in the covered set."""
    goal = network(target)
    return goal is not None and any(n.version == goal.version and n.overlaps(goal) for n in nets)


def within(nets: Sequence[Network], allowed: Sequence[Network]) -> bool:
    """Whether every covered address lies inside ``allowed``."""
    return not minus(nets, allowed)


def size(nets: Iterable[Network], version: int) -> int:
    """How many addresses of one IP version the (disjoint) set holds."""
    return sum(n.num_addresses for n in nets if n.version == version)


def public(nets: Sequence[Network]) -> list[Network]:
    """The covered addresses outside the non-public ranges."""
    return minus(nets, networks(NON_PUBLIC))


def covers_open(nets: Sequence[Network]) -> bool:
    """Whether the set holds as much public space as :data:`OPEN_PREFIX` (or more)."""
    reachable = public(nets)
    return any(size(reachable, v) >= 2 ** ((32 if v == 4 else 128) - p) for v, p in OPEN_PREFIX.items())


def is_open(value: object, excepts: Iterable[object] = ()) -> bool:
    """Whether one CIDR, or a list of them, minus ``excepts`` is open to the internet.

    Open means a public range of at least a /12 (IPv4) or /32 (IPv6) however it is split:
    ``0.0.0.0/0``, ``0.0.0.0/1`` + ``128.0.0.0/1``, a few dozen /8s, ``::/1`` +
    ``8000::/1``, ``2000::/3``.
    """
    values = value if isinstance(value, list | tuple | set | frozenset) else [value]
    return covers_open(covered(values, excepts))


def excluded(cidr: str, excepts: Iterable[str], target: str) -> bool:
    """Whether no address of ``target`` is reachable through ``cidr`` minus ``excepts``."""
    return not reaches(covered([cidr], excepts), target)
