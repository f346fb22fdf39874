"""ISO-NS-03 (stack): each tenant namespace's quota caps compute and storage, within its plan.

A quota that leaves one resource uncapped lets one tenant take that resource from every
other tenant of the cell: a namespace is judged by its *unscoped* ResourceQuotas (a quota
with ``scopes`` or ``scopeSelector`` counts only the pods it matches, so it caps nothing
for the others; ISO-NS-04 flags it), which must together cap requests **and** limits of
CPU, memory and ephemeral storage and requests of persistent storage, each at or below
what the tenant's plan grants (:mod:`tenants.plans`, by the namespace's ``plan`` label).
Object counts above the plan are violations too. Every quota of a namespace is enforced,
so the smallest cap on a resource is the one judged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import fairshare, kube, stackview
from policy.rule import Finding, Resource, RuleConfig, StackRule
from tenants.plans import QUOTA_COMPUTE_KEYS, QUOTA_COUNT_KEYS, PlanSpec
from tenants.quantity import parse_quantity

MSG_NO_QUOTA = "Add an unscoped ResourceQuota (no scopes, no scopeSelector) to the tenant namespace."
MSG_UNKNOWN_PLAN = ("Label the tenant namespace with its plan (a plan of tenants/plans.yaml): "
                    "its quota cannot be judged without one.")
MSG_CPU = "Cap requests.cpu and limits.cpu in the tenant namespace's unscoped ResourceQuota."
MSG_MEMORY = "Cap requests.memory and limits.memory in the tenant namespace's unscoped ResourceQuota."
MSG_EPHEMERAL = ("Cap requests.ephemeral-storage and limits.ephemeral-storage in the tenant "
                 "namespace's unscoped ResourceQuota.")
MSG_STORAGE = "Cap requests.storage in the tenant namespace's unscoped ResourceQuota."
MSG_ABOVE_PLAN = ("Lower the ResourceQuota's caps to at most what the tenant's plan grants "
                  "(tenants/plans.yaml quota).")

#: The message for a missing cap on each compute and storage key.
MISSING = {"requests.cpu": MSG_CPU, "limits.cpu": MSG_CPU,
           "requests.memory": MSG_MEMORY, "limits.memory": MSG_MEMORY,
           "requests.ephemeral-storage": MSG_EPHEMERAL, "limits.ephemeral-storage": MSG_EPHEMERAL,
           "requests.storage": MSG_STORAGE}
assert set(MISSING) == set(QUOTA_COMPUTE_KEYS)


def _allowed(plan: PlanSpec) -> dict[str, str]:
    grants = {key: str(getattr(plan.quota, field)) for key, field in QUOTA_COMPUTE_KEYS.items()}
    grants.update({key: str(getattr(plan.quota, field)) for key, field in QUOTA_COUNT_KEYS.items()})
    return grants


def _judge(ns: stackview.TenantNamespace, quotas: list[Resource]) -> Iterator[Finding]:
    plan = fairshare.plan_of(ns.resource.props)
    if plan is None:
        yield Finding(MSG_UNKNOWN_PLAN, ns.resource.urn)
        return
    allowed = _allowed(plan)
    for key in (*QUOTA_COMPUTE_KEYS, *QUOTA_COUNT_KEYS):
        value, quota = fairshare.tightest(quotas, key)
        if value is None or quota is None:
            if key in QUOTA_COMPUTE_KEYS:
                yield Finding(MISSING[key], quotas[0].urn)
        elif value > parse_quantity(allowed[key]):
            yield Finding(MSG_ABOVE_PLAN, quota.urn)


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    yield from dict.fromkeys(_findings(resources, cfg))


def _findings(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    quotas = stackview.by_namespace(resources, kube.matcher("ResourceQuota"))
    for ns in stackview.tenant_namespaces(resources, cfg):
        unscoped = [q for q in quotas.get(ns.name, []) if not fairshare.is_scoped(q)]
        if not unscoped:
            yield Finding(MSG_NO_QUOTA, ns.resource.urn)
            continue
        yield from _judge(ns, unscoped)


RULE = StackRule(
    id="ISO-NS-03",
    description=(
        "Each tenant namespace has an unscoped ResourceQuota capping requests and limits of CPU, "
        "memory and ephemeral storage and requests of storage, every cap within the tenant's plan."
    ),
    severity="high", tiers="NPV", scope="tenant", check=check,
    reads=kube.matcher("Namespace", "ResourceQuota"))
