"""The plan table (``plans.yaml``) as validated, typed data.

Plans are data, not code: quotas, replica bounds, rate limits, node and database sizes and
backup retention for each plan come from one table, and a component receives the resolved
:class:`PlanSpec` rather than a plan name.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tenants.quantity import parse_quantity

PLANS_FILE = Path(__file__).with_name("plans.yaml")


def _quantity(value: str) -> str:
    parse_quantity(value)
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quota(_Frozen):
    """Namespace ResourceQuota: compute, storage and object counts."""

    cpu: Quantity
    memory: Quantity
    pods: int = Field(gt=0)
    storage: Quantity
    pvcs: int = Field(ge=0)
    services: int = Field(gt=0)
    secrets: int = Field(gt=0)
    configmaps: int = Field(gt=0)


class ContainerDefaults(_Frozen):
    """LimitRange defaults applied to containers that declare none."""

    cpu_request: Quantity
    memory_request: Quantity
    cpu_limit: Quantity
    memory_limit: Quantity


class WorkloadSize(_Frozen):
    """Replica bounds and per-replica requests (limits are twice the requests)."""

    min_replicas: int = Field(ge=1)
    max_replicas: int = Field(ge=1)
    cpu: Quantity
    memory: Quantity

    @model_validator(mode="after")
    def _bounds(self) -> WorkloadSize:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be >= min_replicas")
        return self


class ChatbotBudget(_Frozen):
    """Per-tenant chatbot budget enforced by the chatbot and by the gateway's rate limit."""

    requests_per_day: int = Field(gt=0)
    tokens_per_day: int = Field(gt=0)


class NodePoolSize(_Frozen):
    """Dedicated node group size (``node`` tier) or workload group (``cluster`` tier)."""

    instance_types: tuple[str, ...] = Field(min_length=1)
    min_size: int = Field(ge=1)
    max_size: int = Field(ge=1)
    disk_gib: int = Field(ge=20)


class DatabaseSize(_Frozen):
    """RDS sizing for dedicated databases and backup retention for every tenant."""

    instance_class: str = Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    allocated_storage_gib: int = Field(ge=20)
    backup_retention_days: int = Field(ge=1, le=35)


class PlanSpec(_Frozen):
    """Everything one plan decides."""

    name: str
    quota: Quota
    container_defaults: ContainerDefaults
    fileserver: WorkloadSize
    chatbot: WorkloadSize
    rate_limit_rps: int = Field(gt=0)
    chatbot_budget: ChatbotBudget
    llm_models: tuple[str, ...] = Field(min_length=1)
    node_pool: NodePoolSize
    database: DatabaseSize


def parse_plans(raw: object) -> dict[str, PlanSpec]:
    """Validate a plan table (the parsed YAML mapping of plan name to spec)."""
    if not isinstance(raw, dict):
        raise ValueError("the plan table must be a mapping of plan name to plan spec")
    return {name: PlanSpec(name=name, **spec) for name, spec in raw.items()}


@cache
def load_plans(path: Path = PLANS_FILE) -> dict[str, PlanSpec]:
    """Load and validate the plan table shipped with the platform."""
    return parse_plans(yaml.safe_load(path.read_text(encoding="utf-8")))
