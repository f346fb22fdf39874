"""ISO-RBAC-01: no ClusterRoleBinding reaches a tenant subject."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import kube, tenancy
from policy.props import text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_TENANT_SUBJECT = ("Remove tenant subjects (and system:authenticated, system:unauthenticated, "
                      "system:serviceaccounts) from the ClusterRoleBinding; grant tenants a "
                      "RoleBinding in their namespace.")
MSG_TENANT_OWNED = "Replace the tenant's ClusterRoleBinding with a RoleBinding in its namespace."

#: Groups that contain every tenant's users or ServiceAccounts.
EVERYONE = frozenset({"system:authenticated", "system:unauthenticated", "system:serviceaccounts"})


def is_tenant_subject(subject: Mapping[str, Any]) -> bool:
    """A ServiceAccount in a tenant namespace, a tenant user or group, or a group of everyone."""
    kind, name = subject.get("kind"), text(subject.get("name")) or ""
    if kind == "ServiceAccount":
        return tenancy.tenant_of_namespace(text(subject.get("namespace"))) is not None
    return name in EVERYONE or tenancy.looks_tenant_owned(name)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if tenancy.tenant_of(res.type, res.props) is not None:
        yield MSG_TENANT_OWNED
    if any(is_tenant_subject(s) for s in kube.subjects_of(res.props)):
        yield MSG_TENANT_SUBJECT


RULE = ResourceRule(
    id="ISO-RBAC-01",
    description=(
        "No ClusterRoleBinding grants anything to a tenant's users, groups or ServiceAccounts."
    ),
    severity="critical", tiers="NPV", scope="all",
    applies_to=kube.matcher("rbac.authorization.k8s.io/ClusterRoleBinding"), check=check)
