"""The plan table (``plans.yaml``) as validated, typed data.

Plans are data, not code: quotas, replica bounds, rate limits, the chatbot's Bedrock
models, node and database sizes and backup retention for each plan come from one table,
and a component receives the resolved :class:`PlanSpec` rather than a plan name.

A bad table is reported like a bad registry file: one :class:`~tenants.problems.Problem`
per bad field (``plans.yaml: <plan>.<field>: ...``), all of them at once.
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from tenants.problems import Problem, RegistryInvalid, problems_from_validation, show_value
from tenants.quantity import parse_quantity

PLANS_FILE = Path(__file__).with_name("plans.yaml")


def _quantity(value: str) -> str:
    parse_quantity(value)
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]

#: A Bedrock foundation-model id: ``provider.model`` then optional ``:version`` parts
#: (``amazon.titan-embed-text-v2:0``, ``anthropic.claude-v2:1:200k``). It becomes the last
#: part of a ``foundation-model/<id>`` ARN in the chatbot's policy, so nothing else may
#: appear in it (no ``*``, no ``/``, no ARN).
MODEL_ID_RE = re.compile(r"^[a-z0-9-]+\.[a-z0-9][a-z0-9.-]*(:[a-z0-9]+)*$")

#: pgvector's limits: the ``vector`` type holds at most 16000 dimensions, but an HNSW
#: index (the chatbot's similarity index) covers ``vector`` columns of at most 2000.
PGVECTOR_MAX_DIMENSIONS = 16000
HNSW_MAX_DIMENSIONS = 2000


def _model_id(value: str) -> str:
    if not MODEL_ID_RE.match(value):
        raise ValueError("not a Bedrock foundation-model id: provider.model[:version], lowercase, "
                         "e.g. 'amazon.titan-embed-text-v2:0'")
    return value


ModelId = Annotated[str, AfterValidator(_model_id)]


def _dimensions(value: int) -> int:
    if value > PGVECTOR_MAX_DIMENSIONS:
        raise ValueError(f"pgvector's vector type holds at most {PGVECTOR_MAX_DIMENSIONS} dimensions")
    if value > HNSW_MAX_DIMENSIONS:
        raise ValueError(f"the chatbot's HNSW index covers at most {HNSW_MAX_DIMENSIONS} dimensions "
                         "of a vector column; choose a smaller embedding size")
    return value


Dimensions = Annotated[int, Field(gt=0), AfterValidator(_dimensions)]


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
    """Everything one plan decides.

    ``llm_models``: the Bedrock foundation models the chatbot may answer with (the first is
    its default). ``embedding_model``: the one Bedrock foundation model that embeds the
    tenant's files into its pgvector store, producing vectors of ``embedding_dimensions``
    (the store's ``vector(n)`` column; changing it means re-embedding every file).
    """

    name: str
    quota: Quota
    container_defaults: ContainerDefaults
    fileserver: WorkloadSize
    chatbot: WorkloadSize
    rate_limit_rps: int = Field(gt=0)
    chatbot_budget: ChatbotBudget
    llm_models: tuple[ModelId, ...] = Field(min_length=1)
    embedding_model: ModelId
    embedding_dimensions: Dimensions
    node_pool: NodePoolSize
    database: DatabaseSize


def parse_plans(raw: object, file: str = PLANS_FILE.name) -> dict[str, PlanSpec]:
    """Validate a plan table (the parsed YAML mapping of plan name to spec).

    Raises :class:`RegistryInvalid` with one problem per bad field, named
    ``<plan>.<field>`` in ``file``.
    """
    if not isinstance(raw, dict):
        raise RegistryInvalid([Problem(file, "(file)", show_value(raw),
                                       "expected a mapping of plan name to plan spec")])
    allowed = sorted(set(PlanSpec.model_fields) - {"name"})
    plans: dict[str, PlanSpec] = {}
    problems: list[Problem] = []
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            problems.append(Problem(file, str(name), show_value(spec), "expected a mapping of plan fields"))
            continue
        if "name" in spec:
            problems.append(Problem(file, f"{name}.name", show_value(spec["name"]),
                                    "a plan is named by its key in the table"))
            continue
        try:
            plans[name] = PlanSpec.model_validate({**spec, "name": name})
        except ValidationError as exc:
            problems.extend(dataclasses.replace(p, field=f"{name}.{p.field}")
                            for p in problems_from_validation(file, exc, allowed))
    if problems:
        raise RegistryInvalid(problems)
    return plans


@cache
def load_plans(path: Path = PLANS_FILE) -> dict[str, PlanSpec]:
    """Load and validate the plan table shipped with the platform."""
    return parse_plans(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
