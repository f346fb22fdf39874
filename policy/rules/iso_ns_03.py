"""ISO-NS-03 (stack): each tenant namespace has a ResourceQuota for CPU, memory and storage."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import kube, stackview
from policy.props import as_map
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_NO_QUOTA = "Add a ResourceQuota to the tenant namespace."
MSG_CPU = "Cap CPU (requests.cpu or limits.cpu) in the tenant namespace's ResourceQuota."
MSG_MEMORY = "Cap memory (requests.memory or limits.memory) in the tenant namespace's ResourceQuota."
MSG_STORAGE = "Cap requests.storage in the tenant namespace's ResourceQuota."

CAPS = (
    (MSG_CPU, {"cpu", "requests.cpu", "limits.cpu"}),
    (MSG_MEMORY, {"memory", "requests.memory", "limits.memory"}),
    (MSG_STORAGE, {"requests.storage"}),
)


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    quotas = stackview.by_namespace(resources, kube.matcher("ResourceQuota"))
    for ns in stackview.tenant_namespaces(resources, cfg):
        found = quotas.get(ns.name, [])
        if not found:
            yield Finding(MSG_NO_QUOTA, ns.resource.urn)
            continue
        keys = {k for q in found for k in as_map(kube.spec(q.props).get("hard"))}
        for message, accepted in CAPS:
            if not keys & accepted:
                yield Finding(message, ns.resource.urn)


RULE = StackRule(
    id="ISO-NS-03",
    description="Each tenant namespace has a ResourceQuota capping CPU, memory and storage.",
    severity="high", tiers="NPV", scope="tenant", check=check,
    reads=kube.matcher("Namespace", "ResourceQuota"))
