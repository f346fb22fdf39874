"""ISO-RBAC-04: no escalate, bind or impersonate; never bind cluster-admin or admin."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_list
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_ESCALATION_VERBS = "Remove the escalate, bind and impersonate verbs."
MSG_ADMIN_ROLE = "Bind a namespace-scoped Role instead of the cluster-admin or admin ClusterRole."

ESCALATION_VERBS = frozenset({"escalate", "bind", "impersonate"})
ADMIN_ROLES = frozenset({"cluster-admin", "admin"})
IS_ROLE = kube.matcher("rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole")
IS_BINDING = kube.matcher("rbac.authorization.k8s.io/RoleBinding",
                          "rbac.authorization.k8s.io/ClusterRoleBinding")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_ROLE(res.type):
        if any(ESCALATION_VERBS & set(as_list(r.get("verbs"))) for r in kube.rules_of(res.props)):
            yield MSG_ESCALATION_VERBS
        return
    ref = kube.role_ref(res.props)
    if ref.get("kind") == "ClusterRole" and ref.get("name") in ADMIN_ROLES:
        yield MSG_ADMIN_ROLE


RULE = ResourceRule(
    id="ISO-RBAC-04",
    description=(
        "Tenant roles carry no escalate, bind or impersonate verbs, and no tenant binding refers "
        "to cluster-admin or admin."
    ),
    severity="critical", tiers="NPV", scope="tenant",
    applies_to=lambda t: IS_ROLE(t) or IS_BINDING(t), check=check)
