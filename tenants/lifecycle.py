"""A tenant's lifecycle as the registry records it: active, or offboarded with its data kept.

Offboarding never deletes a tenant's file: ``tenantctl offboard`` marks it offboarded and
records what was kept, so that its placement stays reserved, its stack is never orphaned
and every later plan still knows the data-bearing resources are meant to stay. Data goes
only with an explicit, recorded step (``tenantctl offboard --destroy-data``), which is
the one thing that lets ``tenantctl diff`` accept the deletion of a protected or retained
resource of that tenant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover
    from tenants.models import TenantRecord


class State(StrEnum):
    """Where a tenant is in its life."""

    ACTIVE = "active"
    OFFBOARDED = "offboarded"


class DataDisposition(StrEnum):
    """What happens to an offboarded tenant's data-bearing resources."""

    KEPT = "kept"
    #: Recorded by ``tenantctl offboard --destroy-data``: the next deploy may delete them.
    DESTROY = "destroy"


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

    @property
    def active(self) -> bool:
        """Whether the tenant runs workloads."""
        return self.state is State.ACTIVE


def data_loss_allowed(records: Iterable[TenantRecord]) -> set[str]:
    """Tenants whose data-bearing resources a change may delete: recorded ``data: destroy``."""
    return {r.id for r in records
            if r.lifecycle.state is State.OFFBOARDED and r.lifecycle.data is DataDisposition.DESTROY}
