"""ISO-RBAC-01: no ClusterRoleBinding reaches a tenant subject."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import kube, rbac, tenancy
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_TENANT_SUBJECT = ("Remove tenant subjects (and system:authenticated, system:unauthenticated, "
                      "system:serviceaccounts) from the ClusterRoleBinding; grant tenants a "
                      "RoleBinding in their namespace.")
MSG_TENANT_OWNED = "Replace the tenant's ClusterRoleBinding with a RoleBinding in its namespace."


def is_tenant_subject(subject: Mapping[str, Any]) -> bool:
    """A tenant group, a tenant namespace's ServiceAccount (any spelling), or an everyone group.

    Names come from ``tenants.naming`` through ``policy.rbac``: ``tenant:<id>:admins`` is
    as much a tenant subject as ``tenant-<id>``'s ServiceAccounts.
    """
    return bool(rbac.subject_tenants(subject, None, rbac.Identities()))


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if tenancy.tenant_of(res.type, res.props) is not None:
        yield MSG_TENANT_OWNED
    if any(is_tenant_subject(s) for obj in rbac.objects([res])
           for s in kube.subjects_of(obj.props)):
        yield MSG_TENANT_SUBJECT


RULE = ResourceRule(
    id="ISO-RBAC-01",
    description=(
        "No ClusterRoleBinding grants anything to a tenant's users, groups or ServiceAccounts."
    ),
    severity="critical", tiers="NPV", scope="all",
    applies_to=rbac.IS_CLUSTER_ROLE_BINDING, check=check)
