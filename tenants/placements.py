"""Every placement of a tenant a stack must declare: its current one, and those it is leaving.

A tenant normally lives in one stack. A move between stacks (``tenantctl migrate``,
:mod:`tenants.migration`) gives it a second one for a while, and the placements it left
stay declared afterwards (``kept`` in its file), retired: their data stays managed
(protected, retained) until it is destroyed explicitly. A placement is turned into a
*view* of the tenant (a :class:`~tenants.loader.ResolvedTenant` with that tier, cell or
account and naming generation), so that the stacks and the components build it like any
other tenant, with nothing of their own to learn:

- the current placement: active; it serves the tenant's host unless a move to it has not
  switched yet;
- a migration's source: active and serving until the switch, retired after it;
- a kept placement: retired, serving nothing.

A retired view is the tenant offboarded with its data kept (``TenantContext.retired``):
exactly what keeps the data, nothing that runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tenants import accounts, naming
from tenants.lifecycle import DataDisposition, Lifecycle, State
from tenants.lifecycle import data_loss_allowed as lifecycle_data_loss_allowed
from tenants.models import MigrationState, Placement, PlatformSettings, TenantRecord, Tier
from tenants.problems import Problem, show_value

if TYPE_CHECKING:  # pragma: no cover
    from tenants.loader import ResolvedTenant

#: What a retired view's record says: offboarded, its data kept.
_RETIRED = Lifecycle(state=State.OFFBOARDED, data=DataDisposition.KEPT)
#: A dedicated source just switched away from: its workloads go, its cluster is released
#: (EKS deletion protection and the namespace's ``protect`` lifted). Pulumi cannot delete what
#: it still protects in the update that stops protecting it, so the stack becomes data-only
#: (``_RETIRED``) only in the next update, when the migration finishes and the placement is kept.
_RELEASING = Lifecycle(state=State.RETIRING, data=DataDisposition.KEPT)


def stack_name(tenant_id: str, tier: Tier, cell: str | None) -> str:
    """The stack that builds a tenant placed so (``shared-<cell>`` or ``tenant-<id>``)."""
    return naming.shared_stack_name(cell or "") if tier.shared else naming.dedicated_stack_name(tenant_id)


def current(record: TenantRecord, cell: str | None, network_cidr: str | None) -> Placement:
    """The placement the record (with the loader's cell or CIDR) describes."""
    if record.tier.shared:
        return Placement(tier=record.tier, cell=cell, generation=record.generation)
    return Placement(tier=record.tier, account=record.account, network_cidr=network_cidr,
                     generation=record.generation)


def left(record: TenantRecord) -> list[tuple[Placement, bool]]:
    """The placements a tenant is leaving or left, each with whether it is still active."""
    out: list[tuple[Placement, bool]] = []
    if record.migration is not None:
        out.append((record.migration.source, record.migration.state is MigrationState.MOVING))
    out += [(p, False) for p in record.kept]
    return out


def copier_account(record: TenantRecord) -> str | None:
    """The account whose deploy role copies the tenant's files, while it moves (else None).

    A copy is one principal reading the source and writing the target. A move between stacks
    always has a dedicated side (shared <-> ``cluster``), whose account the registry names
    (a cell's may be the runner's own, unnamed): its deploy role is the copier. Only while
    ``moving``: the copy and its verification end before the switch, and so does the grant.
    """
    migration = record.migration
    if migration is None or migration.state is not MigrationState.MOVING:
        return None
    return record.account if record.tier is Tier.CLUSTER else migration.source.account


def _view(tenant: ResolvedTenant, settings: PlatformSettings, placement: Placement, *,
          active: bool, serving: bool, lifecycle: Lifecycle = _RETIRED,
          copier: str | None = None) -> ResolvedTenant:
    record = tenant.record.model_copy(update={
        "tier": placement.tier, "cell": placement.cell, "account": placement.account,
        "network_cidr": placement.network_cidr, "generation": placement.generation,
        "migration": None, "kept": (),
        **({} if active else {"lifecycle": lifecycle})})
    return dataclasses.replace(
        tenant, record=record, cell=placement.cell, network_cidr=placement.network_cidr,
        account=accounts.tenant_account(settings, placement.tier, placement.account, placement.cell),
        serving=serving, copier_account=copier)


def kept_lifecycle(placement: Placement) -> Lifecycle:
    """What a kept placement's view records: offboarded, its data as the placement says."""
    if placement.data is DataDisposition.KEPT:
        return _RETIRED
    return Lifecycle(state=State.OFFBOARDED, data=placement.data, final_snapshot=placement.final_snapshot)


def views(tenant: ResolvedTenant, settings: PlatformSettings) -> list[ResolvedTenant]:
    """The tenant as each stack that declares it sees it: current placement first.

    A kept placement whose data is destroyed declares nothing; it is left out where another
    placement of the tenant lives in its stack (a move back into that cell), and kept
    otherwise, so that a dedicated stack that held it stays in the fleet, empty, like an
    offboarded tenant's whose data was destroyed.
    """
    moving = tenant.record.migration is not None and tenant.record.migration.state is MigrationState.MOVING
    copier = copier_account(tenant.record)
    out = [dataclasses.replace(tenant, serving=not moving, copier_account=copier)]
    migration = tenant.record.migration
    occupied = {view_stack(tenant), *(stack_name(tenant.id, p.tier, p.cell)
                                      for p in placements_holding_data(tenant.record))}
    for placement, active in left(tenant.record):
        if not placement.holds_data and stack_name(tenant.id, placement.tier, placement.cell) in occupied:
            continue
        releasing = (migration is not None and placement is migration.source
                     and migration.state is MigrationState.SWITCHED and placement.tier is Tier.CLUSTER)
        lifecycle = _RELEASING if releasing else kept_lifecycle(placement)  # unused while active
        out.append(_view(tenant, settings, placement, active=active, serving=active, lifecycle=lifecycle,
                         copier=copier if migration is not None and placement is migration.source else None))
    return out


def placements_holding_data(record: TenantRecord) -> list[Placement]:
    """The placements the tenant left whose stacks still declare something of it."""
    return [p for p, _ in left(record) if p.holds_data]


#: Whose data a change may delete: a tenant id (everywhere: an offboarded tenant destroying
#: its data) or a (tenant, stack) pair (only there: a kept placement being destroyed).
DataLossAllowance = set[str | tuple[str, str]]


def data_loss_allowed(records: Iterable[TenantRecord]) -> DataLossAllowance:
    """Whose data-bearing resources a change may delete (what ``tenantctl.diff`` accepts).

    An offboarded tenant destroying its data, anywhere (:func:`tenants.lifecycle.data_loss_allowed`);
    a kept placement being destroyed, in its own stack only: the tenant's current placement
    and its other kept ones stay protected.
    """
    records = list(records)
    allowed: DataLossAllowance = set(lifecycle_data_loss_allowed(records))
    allowed |= {(r.id, stack_name(r.id, p.tier, p.cell)) for r in records for p in r.kept
                if p.data is not DataDisposition.KEPT}
    return allowed


def view_stack(view: ResolvedTenant) -> str:
    """The stack that declares one view."""
    return stack_name(view.id, view.tier, view.cell)


def problems(rel: str, record: TenantRecord, cell: str | None, cells: Iterable[str]) -> list[Problem]:
    """What makes a tenant's placements impossible to declare: one stack twice, unknown cells.

    Two placements in one stack would declare the same logical resources twice (and the same
    Kubernetes namespace and database schema, which have no generation); a placement in a
    cell the platform no longer has would be orphaned. Generations only grow: every
    placement left has a lower one than the current.
    """
    found: list[Problem] = []
    known = set(cells)
    here = stack_name(record.id, record.tier, cell)
    seen = {here: "its current placement"}
    for index, (placement, _) in enumerate(left(record)):
        field = "migration" if record.migration is not None and index == 0 else "kept"
        where = stack_name(record.id, placement.tier, placement.cell)
        what = f"{placement.tier} placement of generation {placement.generation}"
        if placement.cell is not None and placement.cell not in known:
            found.append(Problem(rel, field, show_value(placement.cell),
                                 f"the {what} is in an unknown cell; cells are {sorted(known)}"))
        if where in seen and placement.holds_data:  # a destroyed one declares nothing there
            found.append(Problem(rel, field, where, (
                f"the {what} is in stack {where}, which already declares {seen[where]}: a stack "
                "holds one placement of a tenant (its namespace and database schema have no "
                "generation); destroy the data kept there first (`tenantctl offboard "
                f"{record.id} --destroy-data --kept {where}`), or move to another cell")))
        if placement.holds_data:
            seen.setdefault(where, f"its {what}")
        if placement.generation >= record.generation:
            found.append(Problem(rel, "generation", show_value(record.generation), (
                f"is not above the generation {placement.generation} of a placement it left: "
                "a move to another stack takes new names (`tenantctl migrate`)")))
    return found
