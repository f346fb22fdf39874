"""Quota arithmetic: whether what a tenant runs fits inside the quota its plan grants.

A plan whose quota is below the requests of the tenant's own workloads would leave pods
pending forever; that is caught at validation, before anything is provisioned.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from tenants.models import TenantRecord, Tier
from tenants.plans import PlanSpec, WorkloadSize
from tenants.quantity import parse_quantity

#: Requests of a vCluster control plane (syncer + k3s/k8s distro) in the host namespace.
VCLUSTER_OVERHEAD = {"cpu": Decimal("0.2"), "memory": parse_quantity("256Mi"), "pods": Decimal(1)}


def workload_sizes(record: TenantRecord, plan: PlanSpec) -> list[tuple[str, WorkloadSize]]:
    """The workloads a tenant runs, by name, with their plan-given sizes."""
    sizes = []
    if record.features.fileserver:
        sizes.append(("fileserver", plan.fileserver))
    if record.features.chatbot:
        sizes.append(("chatbot", plan.chatbot))
    return sizes


def _show(key: str, value: Decimal | int) -> str:
    """A quantity as people write it: cores, Mi of memory, a pod count."""
    if key == "memory":
        return f"{format((Decimal(value) / 2**20).normalize(), 'f')}Mi"
    return format(Decimal(value).normalize(), "f")


def check_fits(record: TenantRecord, plan: PlanSpec) -> Iterator[tuple[str, str, str]]:
    """Yield (field, value, message) for each resource the workloads exceed at max scale."""
    need: dict[str, Decimal] = {"cpu": Decimal(0), "memory": Decimal(0), "pods": Decimal(0)}
    for _, size in workload_sizes(record, plan):
        need["cpu"] += parse_quantity(size.cpu) * size.max_replicas
        need["memory"] += parse_quantity(size.memory) * size.max_replicas
        need["pods"] += size.max_replicas
    if record.tier is Tier.VCLUSTER:
        for key, value in VCLUSTER_OVERHEAD.items():
            need[key] += value
    have = {"cpu": parse_quantity(plan.quota.cpu), "memory": parse_quantity(plan.quota.memory),
            "pods": Decimal(plan.quota.pods)}
    for key in ("cpu", "memory", "pods"):
        if need[key] > have[key]:
            yield ("plan", repr(plan.name),
                   f"quota {key} {_show(key, have[key])} of plan {plan.name!r} is below the "
                   f"{_show(key, need[key])} "
                   "its workloads request at maximum scale: choose a larger plan or turn a feature off")
