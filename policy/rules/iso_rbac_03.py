"""ISO-RBAC-03: no wildcard verbs, resources or API groups in tenant roles."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube, rbac
from policy.props import as_list
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_VERBS = "List verbs explicitly instead of '*'."
MSG_RESOURCES = "List resources explicitly instead of '*'."
MSG_GROUPS = "List apiGroups explicitly instead of '*'."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    for rule in (r for obj in rbac.objects([res]) for r in kube.rules_of(obj.props)):
        if "*" in as_list(rule.get("verbs")):
            yield MSG_VERBS
        if "*" in as_list(rule.get("resources")):
            yield MSG_RESOURCES
        if "*" in as_list(rule.get("apiGroups")):
            yield MSG_GROUPS


RULE = ResourceRule(
    id="ISO-RBAC-03",
    description="Tenant Roles and ClusterRoles name their verbs, resources and API groups; no '*'.",
    severity="high", tiers="NPV", scope="tenant",
    applies_to=lambda t: rbac.IS_ROLE(t) or rbac.IS_CLUSTER_ROLE(t), check=check)
