"""Quota arithmetic: whether what a tenant runs fits inside the quota its plan grants.

A plan whose quota is below the requests of the tenant's own workloads would leave pods
pending forever; that is caught at validation, before anything is provisioned.

Maximum scale includes a rollout: every workload's Deployment rolls with
``maxSurge: ROLLOUT_MAX_SURGE, maxUnavailable: 0``, so at ``max_replicas`` a rollout
creates that many extra pods (with their requests and mesh proxies) before it removes an
old one, and the ResourceQuota counts them. A quota sized exactly at ``max_replicas``
would stall every rollout at maximum scale; :data:`ROLLOUT_MAX_SURGE` is the one number
both this check and :mod:`components.workload` use. The workloads are counted as rolling
together (one platform change can roll both). The vCluster's CoreDNS needs no surge
budget: its Deployment (the chart's ``coredns-configmap.yaml``) rolls with
``maxUnavailable: 1``, so a surge pod the quota refuses does not stall it, and the
control plane is a StatefulSet, which replaces its pod in place.

Everything the platform itself adds to a tenant namespace counts too: the mesh proxy
injected into every pod, and for the ``vcluster`` tier the virtual cluster's control plane,
its CoreDNS and the control plane's volume. The vCluster figures below are the ones
``components/vcluster.py`` writes into the chart's values, so the check and the running
pods cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from tenants.models import TenantRecord, Tier
from tenants.plans import PlanSpec, WorkloadSize
from tenants.quantity import parse_quantity

#: Extra pods a workload's Deployment may create during a rollout (``maxSurge``; its
#: ``maxUnavailable`` is 0, so a rollout never dips below the running replicas).
ROLLOUT_MAX_SURGE = 1

#: Requests of the mesh proxy injected into every pod of a tenant namespace (Istio's
#: default ``global.proxy.resources.requests``). The quota counts them like any container.
MESH_SIDECAR_REQUESTS = {"cpu": "100m", "memory": "128Mi"}

#: The vCluster control plane container (API server, controller manager and syncer in one
#: StatefulSet pod, state in embedded SQLite on a PVC), as set in the chart's values.
VCLUSTER_CONTROL_PLANE_RESOURCES = {
    "requests": {"cpu": "200m", "memory": "256Mi", "ephemeral-storage": "400Mi"},
    "limits": {"memory": "2Gi", "ephemeral-storage": "8Gi"},
}
#: The virtual cluster's CoreDNS: a Deployment inside the vCluster, synced into the host
#: namespace as an ordinary pod.
VCLUSTER_COREDNS_RESOURCES = {
    "requests": {"cpu": "20m", "memory": "64Mi"},
    "limits": {"cpu": "1", "memory": "170Mi"},
}
#: Size of the control plane's data volume (one PVC in the host namespace).
VCLUSTER_STORAGE = "5Gi"

#: What a vCluster adds to its host namespace (its two pods' mesh proxies come on top).
VCLUSTER_OVERHEAD: dict[str, Decimal] = {
    "cpu": parse_quantity(VCLUSTER_CONTROL_PLANE_RESOURCES["requests"]["cpu"])
    + parse_quantity(VCLUSTER_COREDNS_RESOURCES["requests"]["cpu"]),
    "memory": parse_quantity(VCLUSTER_CONTROL_PLANE_RESOURCES["requests"]["memory"])
    + parse_quantity(VCLUSTER_COREDNS_RESOURCES["requests"]["memory"]),
    "pods": Decimal(2),
    "pvcs": Decimal(1),
    "storage": parse_quantity(VCLUSTER_STORAGE),
}

#: Quota resources checked, in message order.
RESOURCES = ("cpu", "memory", "pods", "pvcs", "storage")


def workload_sizes(record: TenantRecord, plan: PlanSpec) -> list[tuple[str, WorkloadSize]]:
    """The workloads a tenant runs, by name, with their plan-given sizes."""
    sizes = []
    if record.features.fileserver:
        sizes.append(("fileserver", plan.fileserver))
    if record.features.chatbot:
        sizes.append(("chatbot", plan.chatbot))
    return sizes


def requirements(record: TenantRecord, plan: PlanSpec) -> dict[str, Decimal]:
    """What the tenant's namespace requests at maximum scale during a rollout, per resource.

    Workloads at ``max_replicas`` plus :data:`ROLLOUT_MAX_SURGE` surge pods each, the
    vCluster's own pods and volume for the ``vcluster`` tier, and one mesh proxy per pod.
    """
    need = dict.fromkeys(RESOURCES, Decimal(0))
    for _, size in workload_sizes(record, plan):
        pods = size.max_replicas + ROLLOUT_MAX_SURGE
        need["cpu"] += parse_quantity(size.cpu) * pods
        need["memory"] += parse_quantity(size.memory) * pods
        need["pods"] += pods
    if record.tier is Tier.VCLUSTER:
        for key, value in VCLUSTER_OVERHEAD.items():
            need[key] += value
    need["cpu"] += need["pods"] * parse_quantity(MESH_SIDECAR_REQUESTS["cpu"])
    need["memory"] += need["pods"] * parse_quantity(MESH_SIDECAR_REQUESTS["memory"])
    return need


def _show(key: str, value: Decimal | int) -> str:
    """A quantity as people write it: cores, Mi of memory or storage, a count."""
    if key in ("memory", "storage"):
        return f"{format((Decimal(value) / 2**20).normalize(), 'f')}Mi"
    return format(Decimal(value).normalize(), "f")


def check_fits(record: TenantRecord, plan: PlanSpec) -> Iterator[tuple[str, str, str]]:
    """Yield (field, value, message) for each quota resource the tenant exceeds at max scale.

    Maximum scale includes the rollout surge (:func:`requirements`).
    """
    need = requirements(record, plan)
    quota = plan.quota
    have = {"cpu": parse_quantity(quota.cpu), "memory": parse_quantity(quota.memory),
            "pods": Decimal(quota.pods), "pvcs": Decimal(quota.pvcs),
            "storage": parse_quantity(quota.storage)}
    extra = " and the vCluster control plane" if record.tier is Tier.VCLUSTER else ""
    for key in RESOURCES:
        if need[key] > have[key]:
            yield ("plan", repr(plan.name),
                   f"quota {key} {_show(key, have[key])} of plan {plan.name!r} is below the "
                   f"{_show(key, need[key])} the tenant requests at maximum scale, plus rollout "
                   f"surge (its workloads, one mesh proxy per pod{extra}): choose a larger plan "
                   "or turn a feature off")
