"""Pure placement decisions: VPC CIDRs for dedicated tenants and cells for shared tenants.

Both follow the same rule: what is recorded (in a tenant file or in the ledger) never
moves; what is new is placed deterministically (sorted by id, first fit) around it. A
placement is recorded in the ledger (``tenantctl allocate --write``) when the tenant is
onboarded, so that adding or removing tenants later never moves an existing one.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

IPv4Network = ipaddress.IPv4Network


class PlacementError(ValueError):
    """No placement exists: the pool or every eligible cell is full."""


def overlaps(a: str, b: str) -> bool:
    """True when two CIDR blocks share any address."""
    return IPv4Network(a).overlaps(IPv4Network(b))


def allocate_cidrs(
    wanting: Iterable[str],
    taken: Mapping[str, str],
    pool: str,
    prefix: int,
    avoid: Sequence[str] = (),
) -> dict[str, str]:
    """Give each tenant in ``wanting`` the first free ``/prefix`` block of ``pool``.

    ``taken`` maps tenants to blocks they already hold (never moved); ``avoid`` lists other
    blocks in use (cell VPCs). Tenants are placed in sorted order, so the result depends
    only on the inputs, never on file order.
    """
    used = [IPv4Network(c) for c in [*taken.values(), *avoid]]
    result: dict[str, str] = {}
    candidates = IPv4Network(pool).subnets(new_prefix=prefix)
    for tenant_id in sorted(set(wanting) - set(taken)):
        for block in candidates:
            if not any(block.overlaps(u) for u in used):
                used.append(block)
                result[tenant_id] = str(block)
                break
        else:
            raise PlacementError(
                f"dedicated CIDR pool {pool} has no free /{prefix} left for {tenant_id!r}: "
                "widen dedicated_cidr_pool in _platform.yaml or give network_cidr explicitly"
            )
    return result


@dataclass(frozen=True)
class CellSlot:
    """What cell assignment needs to know about one cell."""

    name: str
    region: str
    capacity: int
    dedicated_pools: bool
    accepts_new_tenants: bool


@dataclass(frozen=True)
class Seeker:
    """A shared-tier tenant that needs a cell."""

    tenant_id: str
    region: str
    needs_dedicated_pool: bool


def assign_cells(
    seekers: Iterable[Seeker], placed: Mapping[str, str], cells: Sequence[CellSlot]
) -> dict[str, str]:
    """Place each seeker in the first eligible cell (declared order) that has room.

    ``placed`` maps tenants already in a cell (pinned or recorded) to it; they count
    toward capacity and never move. Eligible: same region, open to new tenants, and
    able to run dedicated node pools when the tenant needs one.
    """
    load = Counter(placed.values())
    result: dict[str, str] = {}
    for seeker in sorted(seekers, key=lambda s: s.tenant_id):
        if seeker.tenant_id in placed:
            continue
        for cell in cells:
            eligible = (
                cell.region == seeker.region
                and cell.accepts_new_tenants
                and (cell.dedicated_pools or not seeker.needs_dedicated_pool)
            )
            if eligible and load[cell.name] < cell.capacity:
                load[cell.name] += 1
                result[seeker.tenant_id] = cell.name
                break
        else:
            raise PlacementError(
                f"no cell in {seeker.region} has room for {seeker.tenant_id!r}"
                + (" with dedicated node pools" if seeker.needs_dedicated_pool else "")
                + ": add a cell to _platform.yaml"
            )
    return result
