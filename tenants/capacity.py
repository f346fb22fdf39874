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

Requests and limits are both checked (the quota budgets both, see
:mod:`components.k8s_manifests`), for CPU, memory and ephemeral storage: every container
the platform runs declares all three, or takes the namespace LimitRange's defaults, which
is how the numbers here are computed. The LimitRange itself must admit every platform
container and pod (its ``min``/``max``/``pod_max``/``pvc`` bounds), or the platform's own
pods would be refused; :func:`check_fits` proves that as well.

Everything the platform itself adds to a tenant namespace counts too: the mesh proxy
injected into every pod (its CPU and memory set by the pod annotations of
:data:`MESH_SIDECAR_ANNOTATIONS`; Istio has no annotation for ephemeral storage, so the
proxy takes the LimitRange's default, which the API server's LimitRanger applies again
after the injection webhook changed the pod), and for the ``vcluster`` tier the virtual
cluster's control plane, its CoreDNS and the control plane's volume. The vCluster figures below are the ones
``components/vcluster.py`` writes into the chart's values, so the check and the running
pods cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tenants.models import TenantRecord, Tier
from tenants.plans import PlanSpec, WorkloadSize
from tenants.quantity import QUANTITY_RE, parse_quantity

#: Extra pods a workload's Deployment may create during a rollout (``maxSurge``; its
#: ``maxUnavailable`` is 0, so a rollout never dips below the running replicas).
ROLLOUT_MAX_SURGE = 1

#: Limits of the platform's workload containers are this many times their plan requests.
LIMIT_FACTOR = 2

#: Container resource names the quota and the LimitRange bound.
COMPUTE = ("cpu", "memory", "ephemeral-storage")

#: Requests and limits of the mesh proxy injected into every pod of a tenant namespace,
#: set per pod by :data:`MESH_SIDECAR_ANNOTATIONS` (Istio's defaults, 2 CPU and 1Gi
#: limits, would dwarf the workloads under a limits quota).
MESH_SIDECAR_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}
#: The sidecar injector's resource annotations (istio.io annotations reference), from
#: :data:`MESH_SIDECAR_RESOURCES`. The injected init container gets the same figures.
MESH_SIDECAR_ANNOTATIONS = {
    "sidecar.istio.io/proxyCPU": MESH_SIDECAR_RESOURCES["requests"]["cpu"],
    "sidecar.istio.io/proxyMemory": MESH_SIDECAR_RESOURCES["requests"]["memory"],
    "sidecar.istio.io/proxyCPULimit": MESH_SIDECAR_RESOURCES["limits"]["cpu"],
    "sidecar.istio.io/proxyMemoryLimit": MESH_SIDECAR_RESOURCES["limits"]["memory"],
}

#: The vCluster control plane container (API server, controller manager and syncer in one
#: StatefulSet pod, state in embedded SQLite on a PVC), as set in the chart's values.
VCLUSTER_CONTROL_PLANE_RESOURCES = {
    "requests": {"cpu": "200m", "memory": "256Mi", "ephemeral-storage": "400Mi"},
    "limits": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "4Gi"},
}
#: The virtual cluster's CoreDNS: a Deployment inside the vCluster, synced into the host
#: namespace as an ordinary pod.
VCLUSTER_COREDNS_RESOURCES = {
    "requests": {"cpu": "20m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
    "limits": {"cpu": "1", "memory": "170Mi", "ephemeral-storage": "256Mi"},
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

#: Quota resources checked (fields of :class:`tenants.plans.Quota`), in message order.
RESOURCES = ("cpu", "memory", "ephemeral_storage", "limits_cpu", "limits_memory",
             "limits_ephemeral_storage", "pods", "pvcs", "storage")
#: Quota field of each container resource's requests and limits.
_REQUEST_FIELD = {"cpu": "cpu", "memory": "memory", "ephemeral-storage": "ephemeral_storage"}
_LIMIT_FIELD = {"cpu": "limits_cpu", "memory": "limits_memory",
                "ephemeral-storage": "limits_ephemeral_storage"}

Resources = Mapping[str, Mapping[str, str]]


def scale_quantity(quantity: str, factor: int) -> str:
    """``"250m" * 2 == "500m"``, ``"1" * 2 == "2"``: a quantity times a whole factor, same unit."""
    match = QUANTITY_RE.match(quantity)
    if not match:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity")
    number, suffix = match.groups()
    return f"{format((Decimal(number) * factor).normalize(), 'f')}{suffix or ''}"


def workload_resources(size: WorkloadSize) -> dict[str, dict[str, str]]:
    """A workload container: requests from the plan, limits :data:`LIMIT_FACTOR` times them."""
    requests = {"cpu": size.cpu, "memory": size.memory, "ephemeral-storage": size.ephemeral_storage}
    return {"requests": requests,
            "limits": {k: scale_quantity(v, LIMIT_FACTOR) for k, v in requests.items()}}


def admitted(resources: Resources, plan: PlanSpec) -> dict[str, dict[str, Decimal]]:
    """A container's requests and limits once the LimitRange filled what it left out.

    LimitRanger gives a container without a limit the default limit, and one without a
    request its limit if it has one, else the default request (Kubernetes' LimitRanger).
    """
    defaults = plan.limit_range.default.manifest()
    default_requests = plan.limit_range.default_request.manifest()
    given_requests, given_limits = resources.get("requests", {}), resources.get("limits", {})
    limits = {k: parse_quantity(given_limits.get(k, defaults[k])) for k in COMPUTE}
    requests = {}
    for key in COMPUTE:
        if key in given_requests:
            requests[key] = parse_quantity(given_requests[key])
        elif key in given_limits:
            requests[key] = limits[key]
        else:
            requests[key] = parse_quantity(default_requests[key])
    return {"requests": requests, "limits": limits}


@dataclass(frozen=True)
class PlatformPod:
    """One kind of pod the platform runs in a tenant namespace, at most ``count`` at once."""

    name: str
    count: int
    containers: tuple[tuple[str, Resources], ...]


def workload_sizes(record: TenantRecord, plan: PlanSpec) -> list[tuple[str, WorkloadSize]]:
    """The workloads a tenant runs, by name, with their plan-given sizes."""
    sizes = []
    if record.features.fileserver:
        sizes.append(("fileserver", plan.fileserver))
    if record.features.chatbot:
        sizes.append(("chatbot", plan.chatbot))
    return sizes


def platform_pods(record: TenantRecord, plan: PlanSpec) -> list[PlatformPod]:
    """Every pod the platform runs for the tenant at maximum scale during a rollout.

    Workloads at ``max_replicas`` plus :data:`ROLLOUT_MAX_SURGE` surge pods each, and the
    vCluster's control plane and CoreDNS for the ``vcluster`` tier; each with its mesh proxy.
    """
    proxy = ("istio-proxy", MESH_SIDECAR_RESOURCES)
    pods = [PlatformPod(name, size.max_replicas + ROLLOUT_MAX_SURGE,
                        ((name, workload_resources(size)), proxy))
            for name, size in workload_sizes(record, plan)]
    if record.tier is Tier.VCLUSTER:
        pods.append(PlatformPod("vcluster", 1, (("syncer", VCLUSTER_CONTROL_PLANE_RESOURCES), proxy)))
        pods.append(PlatformPod("vcluster-coredns", 1, (("coredns", VCLUSTER_COREDNS_RESOURCES), proxy)))
    return pods


def requirements(record: TenantRecord, plan: PlanSpec) -> dict[str, Decimal]:
    """What the tenant's namespace needs at maximum scale during a rollout, per quota field.

    Requests and limits of every container of :func:`platform_pods` (as admitted, LimitRange
    defaults filled in), the pod count, and the vCluster's volume for the ``vcluster`` tier.
    """
    need = dict.fromkeys(RESOURCES, Decimal(0))
    for pod in platform_pods(record, plan):
        need["pods"] += pod.count
        for _, resources in pod.containers:
            effective = admitted(resources, plan)
            for key in COMPUTE:
                need[_REQUEST_FIELD[key]] += effective["requests"][key] * pod.count
                need[_LIMIT_FIELD[key]] += effective["limits"][key] * pod.count
    if record.tier is Tier.VCLUSTER:
        need["pvcs"] += VCLUSTER_OVERHEAD["pvcs"]
        need["storage"] += VCLUSTER_OVERHEAD["storage"]
    return need


def _show(key: str, value: Decimal | int) -> str:
    """A quantity as people write it: cores, Mi of memory or storage, a count."""
    if "memory" in key or "storage" in key:
        return f"{format((Decimal(value) / 2**20).normalize(), 'f')}Mi"
    return format(Decimal(value).normalize(), "f")


def _quota_amounts(plan: PlanSpec) -> dict[str, Decimal]:
    quota = plan.quota
    return {key: Decimal(getattr(quota, key)) if key in ("pods", "pvcs")
            else parse_quantity(getattr(quota, key)) for key in RESOURCES}


def limit_range_problems(record: TenantRecord, plan: PlanSpec) -> Iterator[str]:
    """Why the plan's LimitRange would refuse one of the platform's own containers or pods."""
    bounds = plan.limit_range
    low, high, pod_high = bounds.min.amounts(), bounds.max.amounts(), bounds.pod_max.amounts()
    for pod in platform_pods(record, plan):
        pod_limits = dict.fromkeys(COMPUTE, Decimal(0))
        for container, resources in pod.containers:
            effective = admitted(resources, plan)
            for key in COMPUTE:
                pod_limits[key] += effective["limits"][key]
                if effective["requests"][key] < low[key]:
                    yield f"{pod.name}/{container} requests less {key} than limit_range.min"
                if effective["limits"][key] > high[key]:
                    yield f"{pod.name}/{container} {key} limit is above limit_range.max"
        for key in COMPUTE:
            if pod_limits[key] > pod_high[key]:
                yield f"{pod.name} pod's {key} limits are above limit_range.pod_max"
    if record.tier is Tier.VCLUSTER:
        size = parse_quantity(VCLUSTER_STORAGE)
        if not parse_quantity(bounds.pvc.min) <= size <= parse_quantity(bounds.pvc.max):
            yield f"the vCluster's {VCLUSTER_STORAGE} volume is outside limit_range.pvc"


def check_fits(record: TenantRecord, plan: PlanSpec) -> Iterator[tuple[str, str, str]]:
    """Yield (field, value, message) for each way the plan cannot hold what the tenant runs.

    Each quota resource the tenant exceeds at maximum scale (rollout surge included,
    :func:`requirements`), and each platform container or pod its LimitRange would refuse.
    """
    need = requirements(record, plan)
    have = _quota_amounts(plan)
    extra = " and the vCluster control plane" if record.tier is Tier.VCLUSTER else ""
    for key in RESOURCES:
        if need[key] > have[key]:
            yield ("plan", repr(plan.name),
                   f"quota {key} {_show(key, have[key])} of plan {plan.name!r} is below the "
                   f"{_show(key, need[key])} the tenant requests at maximum scale, plus rollout "
                   f"surge (its workloads, one mesh proxy per pod{extra}): choose a larger plan "
                   "or turn a feature off")
    for problem in limit_range_problems(record, plan):
        yield ("plan", repr(plan.name),
               f"the LimitRange of plan {plan.name!r} refuses the platform's own pods: {problem}")
