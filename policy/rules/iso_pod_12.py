"""ISO-POD-12: requests and limits on every container; priority classes from an allowlist.

High, not the catalogue's medium: on shared nodes a pod with a higher priority class (a
system class, or a PriorityClass the tenant defines) preempts other tenants' pods, and
nothing else in the cluster stops it (quotas do not limit priority unless scoped), so the
allowlist is a fence between tenants, not advice.
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_map, text
from policy.rule import Resource, ResourceRule, RuleConfig
from tenants import naming

MSG_REQUESTS = "Set resources.requests.cpu and resources.requests.memory on every container."
MSG_LIMITS = "Set resources.limits.cpu and resources.limits.memory on every container."
MSG_PRIORITY = "Use a priorityClassName from the allowlist (option allowedPriorityClasses)."
MSG_TENANT_PRIORITY_CLASS = "Tenants may not define PriorityClasses; use one from the platform allowlist."

IS_PRIORITY_CLASS = kube.matcher("scheduling.k8s.io/PriorityClass")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_PRIORITY_CLASS(res.type):
        yield MSG_TENANT_PRIORITY_CLASS
        return
    template = kube.pod_template(res.type, res.props)
    # Ephemeral containers cannot declare resources; they are judged by the other rules.
    for container in kube.containers(template, ephemeral=False):
        resources = as_map(container.body.get("resources"))
        requests, limits = as_map(resources.get("requests")), as_map(resources.get("limits"))
        if not (requests.get("cpu") and requests.get("memory")):
            yield MSG_REQUESTS
        if not (limits.get("cpu") and limits.get("memory")):
            yield MSG_LIMITS
    priority = text(template.spec.get("priorityClassName"))
    if priority is not None and priority not in cfg.option("allowedPriorityClasses"):
        yield MSG_PRIORITY


RULE = ResourceRule(
    id="ISO-POD-12",
    description=(
        "Every tenant container declares CPU and memory requests and limits, and pods use only "
        "allowlisted priority classes."
    ),
    severity="high", tiers="NPV", scope="tenant",
    options={"allowedPriorityClasses": {
        "type": "array", "items": {"type": "string"}, "default": [naming.TENANT_PRIORITY_CLASS],
        "description": "priorityClassName values tenant pods may use."}},
    applies_to=lambda t: kube.is_workload(t) or IS_PRIORITY_CLASS(t), check=check)
