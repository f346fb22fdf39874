"""The plan table (``plans.yaml``) as validated, typed data.

Plans are data, not code: quotas, limit ranges, replica bounds, rate limits, the chatbot's
Bedrock models, node and database sizes and backup retention for each plan come from one table,
and a component receives the resolved :class:`PlanSpec` rather than a plan name.

A bad table is reported like a bad registry file: one :class:`~tenants.problems.Problem`
per bad field (``plans.yaml: <plan>.<field>: ...``), all of them at once.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
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


#: ResourceQuota ``hard`` key of each compute and storage field of :class:`Quota`.
QUOTA_COMPUTE_KEYS = {
    "requests.cpu": "cpu", "limits.cpu": "limits_cpu",
    "requests.memory": "memory", "limits.memory": "limits_memory",
    "requests.ephemeral-storage": "ephemeral_storage",
    "limits.ephemeral-storage": "limits_ephemeral_storage",
    "requests.storage": "storage",
}
#: ResourceQuota ``hard`` key of each object count field of :class:`Quota`.
QUOTA_COUNT_KEYS = {"pods": "pods", "persistentvolumeclaims": "pvcs", "services": "services",
                    "secrets": "secrets", "configmaps": "configmaps"}
#: Service kinds no tenant may have at all (capped at 0 in every quota).
QUOTA_ZERO_KEYS = ("services.nodeports", "services.loadbalancers")


class Quota(_Frozen):
    """Namespace ResourceQuota: compute and ephemeral storage, persistent storage, counts.

    Requests are what the scheduler reserves; limits are what the tenant's containers may
    burst to on shared nodes. Both are budgeted, so a tenant can neither reserve nor burst
    past its plan (and every pod must declare both, or take the LimitRange's defaults).
    """

    cpu: Quantity
    memory: Quantity
    limits_cpu: Quantity
    limits_memory: Quantity
    ephemeral_storage: Quantity
    limits_ephemeral_storage: Quantity
    pods: int = Field(gt=0)
    storage: Quantity
    pvcs: int = Field(ge=0)
    services: int = Field(gt=0)
    secrets: int = Field(gt=0)
    configmaps: int = Field(gt=0)

    def hard(self) -> dict[str, str]:
        """The ResourceQuota ``hard`` map (values as strings): the one spelling of the plan's quota."""
        return {
            **{key: str(getattr(self, field)) for key, field in QUOTA_COMPUTE_KEYS.items()},
            **{key: str(getattr(self, field)) for key, field in QUOTA_COUNT_KEYS.items()},
            **dict.fromkeys(QUOTA_ZERO_KEYS, "0"),
        }

    @model_validator(mode="after")
    def _limits_hold_requests(self) -> Quota:
        for request, limit in (("cpu", "limits_cpu"), ("memory", "limits_memory"),
                               ("ephemeral_storage", "limits_ephemeral_storage")):
            if parse_quantity(getattr(self, limit)) < parse_quantity(getattr(self, request)):
                raise ValueError(f"{limit} must be at least {request}: every container's limit is "
                                 "at least its request")
        return self


class Compute(_Frozen):
    """CPU, memory and ephemeral storage of one container or pod (a LimitRange entry)."""

    cpu: Quantity
    memory: Quantity
    ephemeral_storage: Quantity

    def manifest(self) -> dict[str, str]:
        """The Kubernetes resource map (``ephemeral-storage`` spelled as the API does)."""
        return {"cpu": self.cpu, "memory": self.memory, "ephemeral-storage": self.ephemeral_storage}

    def amounts(self) -> dict[str, Decimal]:
        """Each resource as an exact number (cores or bytes), keyed as in :meth:`manifest`."""
        return {k: parse_quantity(v) for k, v in self.manifest().items()}


class StorageBounds(_Frozen):
    """Smallest and largest PersistentVolumeClaim a tenant may create."""

    min: Quantity
    max: Quantity


class LimitRangeSpec(_Frozen):
    """The namespace's LimitRange: per-container defaults and bounds, per-pod and per-PVC maxima.

    ``default_request``/``default`` are given to containers that declare no request/limit
    (the mesh proxy's ephemeral storage among them: Istio has no annotation for it).
    ``min``/``max`` bound every container, ``pod_max`` the sum over a pod's containers,
    ``pvc`` every volume claim. A container or pod outside them is refused at admission.
    """

    default_request: Compute
    default: Compute
    min: Compute
    max: Compute
    pod_max: Compute
    pvc: StorageBounds

    @model_validator(mode="after")
    def _ordered(self) -> LimitRangeSpec:
        chain = (("min", self.min), ("default_request", self.default_request),
                 ("default", self.default), ("max", self.max), ("pod_max", self.pod_max))
        for (low_name, low), (high_name, high) in zip(chain, chain[1:], strict=False):
            high_amounts = high.amounts()
            for key, value in low.amounts().items():
                if value > high_amounts[key]:
                    raise ValueError(f"{low_name} {key} must not exceed {high_name} {key}")
        if parse_quantity(self.pvc.min) > parse_quantity(self.pvc.max):
            raise ValueError("pvc.min must not exceed pvc.max")
        return self


class WorkloadSize(_Frozen):
    """Replica bounds and per-replica requests (limits are twice the requests).

    ``ephemeral_storage``: the container's local disk request (logs, ``/tmp``); its limit
    is twice that, like CPU and memory.
    """

    min_replicas: int = Field(ge=1)
    max_replicas: int = Field(ge=1)
    cpu: Quantity
    memory: Quantity
    ephemeral_storage: Quantity

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


class DatabaseLimits(_Frozen):
    """What one tenant's login may use of a (shared) PostgreSQL, set on its role.

    Times in seconds, sizes in MiB. ``connection_limit`` (a role attribute) and
    ``temp_file_limit_mib`` (a superuser-only setting) are hard limits: the tenant cannot
    change them. The others are the role's session defaults; a tenant can lower them, and
    raise them in its own session, so the cell's watchdog (``platform.enforce_limits``,
    docs/database.md) cancels statements and ends idle transactions past the same values.
    """

    connection_limit: int = Field(default=20, ge=1, le=10_000)
    statement_timeout_seconds: int = Field(default=60, ge=1, le=3600)
    idle_in_transaction_timeout_seconds: int = Field(default=60, ge=1, le=3600)
    idle_session_timeout_seconds: int = Field(default=1800, ge=60, le=86_400)
    lock_timeout_seconds: int = Field(default=10, ge=1, le=600)
    work_mem_mib: int = Field(default=16, ge=1, le=2048)
    maintenance_work_mem_mib: int = Field(default=128, ge=1, le=8192)
    temp_file_limit_mib: int = Field(default=2048, ge=1, le=1_048_576)


class DatabaseSize(_Frozen):
    """RDS sizing for dedicated databases, backup retention and per-tenant limits."""

    instance_class: str = Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    allocated_storage_gib: int = Field(ge=20)
    backup_retention_days: int = Field(ge=1, le=35)
    limits: DatabaseLimits = DatabaseLimits()


class PlanSpec(_Frozen):
    """Everything one plan decides.

    ``llm_models``: the Bedrock foundation models the chatbot may answer with (the first is
    its default). ``embedding_model``: the one Bedrock foundation model that embeds the
    tenant's files into its pgvector store, producing vectors of ``embedding_dimensions``
    (the store's ``vector(n)`` column; changing it means re-embedding every file).
    ``list_price_usd_month``: what one tenant pays for the plan each month, which
    ``tenantctl cost`` compares with what the plan's resources cost (docs/cost.md).
    """

    name: str
    list_price_usd_month: Decimal = Field(gt=0, max_digits=9, decimal_places=2)
    quota: Quota
    limit_range: LimitRangeSpec
    fileserver: WorkloadSize
    chatbot: WorkloadSize
    rate_limit_rps: int = Field(gt=0)
    chatbot_budget: ChatbotBudget
    llm_models: tuple[ModelId, ...] = Field(min_length=1)
    embedding_model: ModelId
    embedding_dimensions: Dimensions
    node_pool: NodePoolSize
    database: DatabaseSize

    @model_validator(mode="after")
    def _limit_range_within_quota(self) -> PlanSpec:
        quota = {"cpu": self.quota.limits_cpu, "memory": self.quota.limits_memory,
                 "ephemeral-storage": self.quota.limits_ephemeral_storage}
        for key, value in self.limit_range.pod_max.amounts().items():
            if value > parse_quantity(quota[key]):
                raise ValueError(f"limit_range.pod_max {key} must not exceed the quota's limit on it")
        return self

    @property
    def container_defaults(self) -> LimitRangeSpec:
        """The LimitRange spec (the name TenantNamespace passes to ``limit_range``)."""
        return self.limit_range


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
