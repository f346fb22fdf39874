"""A tenant's lifecycle as the registry records it: active, or offboarded with its data kept.

Offboarding never deletes a tenant's file: ``tenantctl offboard`` marks it offboarded and
records what was kept, so that its placement stays reserved, its stack is never orphaned
and every later plan still knows the data-bearing resources are meant to stay. Data goes
only with an explicit, recorded step (``tenantctl offboard --destroy-data``), which is
the one thing that lets ``tenantctl diff`` accept the deletion of a protected or retained
resource of that tenant.

Each value is one Pulumi update's worth of change, because Pulumi cannot delete in one
update what it still protects: ``state: retiring`` (a dedicated tenant: workloads retired,
its cluster released) before ``offboarded`` (its stack keeps only its data), and ``data:
destroy`` (protection lifted) before ``destroyed`` (nothing declared). Files written before
these values existed load unchanged (``state: offboarded``, ``data: kept``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # pragma: no cover
    from tenants.models import TenantRecord


#: What a dedicated tenant's stack declares (:attr:`Lifecycle.dedicated_stack`).
DedicatedStack = Literal["serving", "released", "data", "nothing"]


class State(StrEnum):
    """Where a tenant is in its life."""

    ACTIVE = "active"
    #: A dedicated (``cluster``-tier) tenant between its two offboarding updates: workloads
    #: retired, its own cluster released (EKS deletion protection off, namespace no longer
    #: protected), because Pulumi cannot delete in the same update what it still protects.
    RETIRING = "retiring"
    OFFBOARDED = "offboarded"


class DataDisposition(StrEnum):
    """What happens to an offboarded tenant's data-bearing resources."""

    KEPT = "kept"
    #: Phase 1 of ``tenantctl offboard --destroy-data``: still declared, but no longer
    #: protected or retained (buckets force-destroyed, RDS deletion protection off), so
    #: that the next update may delete them.
    DESTROY = "destroy"
    #: Phase 2: nothing of the tenant is declared any more; its file stays as the record
    #: and its placement stays reserved.
    DESTROYED = "destroyed"


class Lifecycle(BaseModel):
    """The ``lifecycle`` section of a tenant file (default: active, nothing recorded).

    ``kept``: the data-bearing resources retained at offboarding (type and name), for the
    operator who later restores or destroys them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: State = State.ACTIVE
    offboarded_on: dt.date | None = None
    data: DataDisposition = DataDisposition.KEPT
    kept: tuple[str, ...] = Field(default=(), max_length=2000)
    #: With ``data: destroy``: whether RDS takes its final snapshot (named by
    #: :attr:`tenants.naming.DbServerNames.final_snapshot`) when the instance goes. Kept by
    #: default, with the key that encrypts it; ``--no-final-snapshot`` records false.
    final_snapshot: bool = True
    destroyed_on: dt.date | None = None

    @property
    def active(self) -> bool:
        """Whether the tenant runs workloads."""
        return self.state is State.ACTIVE

    @property
    def dedicated_stack(self) -> DedicatedStack:
        """What a dedicated tenant's own stack declares in this state.

        ``serving`` (active); ``released`` (retiring: everything still there, its protection
        lifted); ``data`` (offboarded: the database, VPC, keys, buckets; no cluster, nodes,
        NAT or proxy); ``nothing`` (its data destroyed). The program builds the stack from
        it and the account quotas count from it, so the two cannot disagree.
        """
        if self.data_destroyed:
            return "nothing"
        if self.state is State.RETIRING:
            return "released"
        return "serving" if self.active else "data"

    @property
    def releasing_data(self) -> bool:
        """Data declared without protection, for the next update to delete (phase 1)."""
        return self.data is DataDisposition.DESTROY

    @property
    def data_destroyed(self) -> bool:
        """Nothing of the tenant declared any more (phase 2)."""
        return self.data is DataDisposition.DESTROYED

    @model_validator(mode="after")
    def _destruction_follows_offboarding(self) -> Lifecycle:
        if self.data is not DataDisposition.KEPT and self.state is not State.OFFBOARDED:
            raise ValueError(f"data: {self.data} needs state: offboarded (only an offboarded "
                             "tenant's data can be destroyed)")
        return self


def data_loss_allowed(records: Iterable[TenantRecord]) -> set[str]:
    """Tenants whose data-bearing resources a change may delete: ``data: destroy`` or ``destroyed``."""
    return {r.id for r in records
            if r.lifecycle.state is State.OFFBOARDED and r.lifecycle.data is not DataDisposition.KEPT}
