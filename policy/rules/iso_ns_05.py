"""ISO-NS-05 (stack): each tenant namespace has a LimitRange with defaults and plan-bounded maxima.

The LimitRange gives containers that declare nothing the plan's defaults (without them a
pod that omits a limit is refused by the limits quota, or, with no such quota, runs
unbounded) and bounds a single container, pod and volume claim, so one pod cannot take the
tenant's whole quota on one node. Required: a ``Container`` entry with ``default``,
``defaultRequest``, ``min`` and ``max`` on CPU, memory and ephemeral storage, a ``Pod``
entry with ``max`` on the same, and a ``PersistentVolumeClaim`` entry with ``max`` storage;
each maximum at most what the tenant's plan grants (:mod:`tenants.plans`, by the
namespace's ``plan`` label), each default at most the maximum. Every LimitRange of a
namespace is enforced, so the smallest maximum is the one judged.

Medium: the quota (ISO-NS-03/04) is what keeps one tenant from its neighbours; a LimitRange
that is missing or too generous only lets a tenant spend its own quota badly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import fairshare, kube, stackview
from policy.props import as_map
from policy.rule import Finding, Resource, RuleConfig, StackRule
from tenants.plans import PlanSpec
from tenants.quantity import parse_quantity

MSG_NO_LIMITRANGE = "Add a LimitRange to the tenant namespace."
MSG_UNKNOWN_PLAN = ("Label the tenant namespace with its plan (a plan of tenants/plans.yaml): "
                    "its LimitRange cannot be judged without one.")
MSG_CONTAINER_MAX = ("Give the tenant namespace's LimitRange a Container max on cpu, memory and "
                     "ephemeral-storage.")
MSG_CONTAINER_MIN = ("Give the tenant namespace's LimitRange a Container min on cpu, memory and "
                     "ephemeral-storage.")
MSG_CONTAINER_DEFAULTS = ("Give the tenant namespace's LimitRange a Container default and defaultRequest "
                          "on cpu, memory and ephemeral-storage.")
MSG_POD_MAX = "Give the tenant namespace's LimitRange a Pod max on cpu, memory and ephemeral-storage."
MSG_PVC_MAX = "Give the tenant namespace's LimitRange a PersistentVolumeClaim max on storage."
MSG_ABOVE_PLAN = ("Lower the LimitRange's maxima to at most what the tenant's plan grants "
                  "(tenants/plans.yaml limit_range).")
MSG_DEFAULT_ABOVE_MAX = "Keep the LimitRange's Container defaults and min at or below its max."

#: The message for a missing bound, by LimitRange entry type and field.
MISSING = {("Container", "max"): MSG_CONTAINER_MAX, ("Pod", "max"): MSG_POD_MAX,
           ("PersistentVolumeClaim", "max"): MSG_PVC_MAX, ("Container", "min"): MSG_CONTAINER_MIN,
           ("Container", "default"): MSG_CONTAINER_DEFAULTS,
           ("Container", "defaultRequest"): MSG_CONTAINER_DEFAULTS}


def _plan_maxima(plan: PlanSpec) -> dict[tuple[str, str], str]:
    lr = plan.limit_range
    maxima = {("Container", k): v for k, v in lr.max.manifest().items()}
    maxima.update({("Pod", k): v for k, v in lr.pod_max.manifest().items()})
    maxima[("PersistentVolumeClaim", "storage")] = lr.pvc.max
    return maxima


def _judge(ns: stackview.TenantNamespace, ranges: list[Resource]) -> Iterator[Finding]:
    plan = fairshare.plan_of(ns.resource.props)
    if plan is None:
        yield Finding(MSG_UNKNOWN_PLAN, ns.resource.urn)
        return
    culprit = ranges[0].urn
    for (kind, resource), allowed in _plan_maxima(plan).items():
        value = fairshare.tightest_bound(ranges, kind, "max", resource)
        if value is None:
            yield Finding(MISSING[(kind, "max")], culprit)
        elif value > parse_quantity(allowed):
            yield Finding(MSG_ABOVE_PLAN, culprit)
    for field in ("default", "defaultRequest", "min"):
        for resource in fairshare.COMPUTE:
            values = [fairshare.quantity(as_map(item.get(field)).get(resource))
                      for r in ranges for item in fairshare.limit_items(r, "Container")]
            present = [v for v in values if v is not None]
            if not present:
                yield Finding(MISSING[("Container", field)], culprit)
                continue
            top = fairshare.tightest_bound(ranges, "Container", "max", resource)
            if top is not None and max(present) > top:
                yield Finding(MSG_DEFAULT_ABOVE_MAX, culprit)


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    yield from dict.fromkeys(_findings(resources, cfg))


def _findings(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    ranges = stackview.by_namespace(resources, kube.matcher("LimitRange"))
    for ns in stackview.tenant_namespaces(resources, cfg):
        found = ranges.get(ns.name, [])
        if not found:
            yield Finding(MSG_NO_LIMITRANGE, ns.resource.urn)
            continue
        yield from _judge(ns, found)


RULE = StackRule(
    id="ISO-NS-05",
    description=(
        "Each tenant namespace has a LimitRange with container defaults, min and max, pod max and "
        "PVC max, every maximum within the tenant's plan."
    ),
    severity="medium", tiers="NPV", scope="tenant", check=check,
    reads=kube.matcher("Namespace", "LimitRange"))
