"""A tier migration as the registry records it: pure edits of one tenant file and the ledger.

``tenantctl migrate`` moves a tenant in ordered steps; what each stack declares at every
step follows from the registry alone (:mod:`tenants.placements`), so that an ordinary
plan or deploy at any moment keeps declaring every placement that holds data:

1. :func:`start` writes the target placement as the tenant's own (tier, cell or account,
   a naming generation above every one it had) and records the placement it leaves under
   ``migration`` (state ``moving``): both stacks declare the tenant, the source still
   serving its host;
2. :func:`switch` sets state ``switched``: the target serves the host, the source declares
   the tenant retired (data kept, nothing running);
3. :func:`finish` moves the source to ``kept`` (with the date): it stays declared retired
   until its data is destroyed explicitly, like an offboarded tenant's.

A move inside one stack (``namespace`` <-> ``node`` <-> ``vcluster`` in one cell) is only
:func:`retier`: the same resources, updated in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tenants import placements
from tenants.models import MigrationState, Placement, TenantRecord, Tier


@dataclass(frozen=True)
class Target:
    """Where a migration takes a tenant: a tier, and a cell (shared) or an account (cluster)."""

    tier: Tier
    cell: str | None = None
    account: str | None = None


def is_between_stacks(source: Placement, target: Target) -> bool:
    """Whether the move changes the stack (shared <-> cluster, or another cell)."""
    if source.tier.shared != target.tier.shared:
        return True
    return source.tier.shared and target.cell is not None and target.cell != source.cell


def next_generation(record: TenantRecord) -> int:
    """A naming generation above every one the tenant's placements ever had."""
    return 1 + max([record.generation, *(p.generation for p, _ in placements.left(record))])


def placement_json(placement: Placement) -> dict[str, Any]:
    """A placement as a tenant file (or a state file) records it: what is set, and its generation.

    The data-destruction fields appear only once a destruction is recorded, so that a file
    reads as the operator wrote it.
    """
    out = placement.model_dump(mode="json", exclude_none=True)
    for key in ("data", "final_snapshot"):
        if getattr(placement, key) == Placement.model_fields[key].default:
            out.pop(key)
    return out


def retier(data: Mapping[str, Any], tier: Tier) -> dict[str, Any]:
    """The tenant file moved to another tier of the same cell (same stack, same names)."""
    return {**data, "tier": str(tier)}


def start(data: Mapping[str, Any], record: TenantRecord, source: Placement, target: Target,
          step: str) -> dict[str, Any]:
    """The tenant file with the target placement current and the source recorded as left."""
    out = {k: v for k, v in data.items() if k not in ("cell", "account", "network_cidr")}
    out["tier"] = str(target.tier)
    if target.tier.shared:
        out["cell"] = target.cell
    else:
        out["account"] = target.account
    out["generation"] = next_generation(record)
    out["migration"] = {"source": placement_json(source), "state": str(MigrationState.MOVING),
                        "step": step}
    return out


def mark(data: Mapping[str, Any], step: str) -> dict[str, Any]:
    """The tenant file with the migration's last finished step noted (for people)."""
    migration = dict(data["migration"])
    migration["step"] = step
    return {**data, "migration": migration}


def switch(data: Mapping[str, Any], step: str) -> dict[str, Any]:
    """The tenant file with the target serving and the source retired."""
    migration = dict(data["migration"])
    migration.update(state=str(MigrationState.SWITCHED), step=step)
    return {**data, "migration": migration}


def finish(data: Mapping[str, Any], on: dt.date) -> dict[str, Any]:
    """The tenant file with the move done: the source kept (retired, data kept) from ``on``."""
    out = {k: v for k, v in data.items() if k != "migration"}
    source = {**data["migration"]["source"], "since": on.isoformat()}
    out["kept"] = [*data.get("kept", []), source]
    return out
