"""ISO-NS-04: tenant quotas cap object counts; NodePorts are capped at zero."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_map, number
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_NODEPORTS = "Set services.nodeports: 0 in the ResourceQuota's spec.hard."
MSG_LOADBALANCERS = "Cap services.loadbalancers in the ResourceQuota's spec.hard."
MSG_PODS = "Cap pods in the ResourceQuota's spec.hard."
MSG_PVCS = "Cap persistentvolumeclaims in the ResourceQuota's spec.hard."
MSG_SECRETS_CAP = "Cap secrets in the ResourceQuota's spec.hard."

COUNTS = (
    (MSG_LOADBALANCERS, ("services.loadbalancers", "count/services.loadbalancers")),
    (MSG_PODS, ("pods", "count/pods")),
    (MSG_PVCS, ("persistentvolumeclaims", "count/persistentvolumeclaims")),
    (MSG_SECRETS_CAP, ("secrets", "count/secrets")),
)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    hard = as_map(kube.spec(res.props).get("hard"))
    if number(hard.get("services.nodeports")) != 0:
        yield MSG_NODEPORTS
    for message, keys in COUNTS:
        if not any(k in hard for k in keys):
            yield message


RULE = ResourceRule(
    id="ISO-NS-04",
    description=(
        "Tenant ResourceQuotas cap object counts: no NodePorts, and limits on load balancers, "
        "pods, PVCs and secrets."
    ),
    severity="medium", tiers="NPV", scope="tenant",
    applies_to=kube.matcher("ResourceQuota"), check=check)
