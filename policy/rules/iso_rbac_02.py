"""ISO-RBAC-02: RoleBinding subjects belong to the binding namespace's tenant."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import kube, rbac, tenancy
from policy.props import text
from policy.rule import Resource, ResourceRule, RuleConfig
from tenants import naming

MSG_FOREIGN = ("Bind only subjects of the namespace's own tenant (its ServiceAccounts, users and "
               "groups) or ServiceAccounts of platform namespaces.")
MSG_EVERYONE = ("Do not bind system:authenticated, system:unauthenticated or "
                "system:serviceaccounts in a tenant namespace.")


def _namespace_ok(namespace: str, own: str, platform: list[str]) -> bool:
    return namespace == own or namespace in platform


def _service_account_namespace(subject: Mapping[str, Any], own: str) -> str | None:
    """The namespace of a ServiceAccount subject under any of its spellings, else None."""
    kind, name = subject.get("kind"), text(subject.get("name")) or ""
    if kind == "ServiceAccount":
        return text(subject.get("namespace")) or own
    if kind == "Group" and name.startswith(naming.SERVICE_ACCOUNTS_GROUP_PREFIX):
        return name[len(naming.SERVICE_ACCOUNTS_GROUP_PREFIX):]
    if kind == "User" and name.startswith(naming.SERVICE_ACCOUNT_USER_PREFIX):
        return name[len(naming.SERVICE_ACCOUNT_USER_PREFIX):].split(":", 1)[0]
    return None


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    for obj in rbac.objects([res]):
        yield from _judge(obj.props, list(cfg.option("platformNamespaces")))


def _judge(props: Mapping[str, Any], platform: list[str]) -> Iterator[str]:
    own = kube.namespace(props) or ""
    tenant = tenancy.tenant_of_namespace(own)
    for subject in kube.subjects_of(props):
        owners = rbac.subject_tenants(subject, own, rbac.Identities())
        sa_namespace = _service_account_namespace(subject, own)
        if rbac.EVERY_TENANT in owners:
            yield MSG_EVERYONE
        elif owners - {tenant} or (sa_namespace is not None
                                   and not _namespace_ok(sa_namespace, own, platform)):
            yield MSG_FOREIGN
        elif subject.get("kind") == "User" and _names_another_tenant(subject, tenant):
            yield MSG_FOREIGN


def _names_another_tenant(subject: Mapping[str, Any], tenant: str | None) -> bool:
    """A user whose name is a tenant's physical name (an IAM role ARN) but not this tenant's."""
    name = text(subject.get("name")) or ""
    return tenancy.looks_tenant_owned(name) and not (
        tenant and tenancy.tenants_named_in(name, [tenant]))


RULE = ResourceRule(
    id="ISO-RBAC-02",
    description="RoleBinding subjects belong to the tenant that owns the binding's namespace.",
    severity="high", tiers="NP", scope="tenant",
    options={"platformNamespaces": {
        "type": "array", "items": {"type": "string"},
        "default": list(tenancy.PLATFORM_NAMESPACES),
        "description": "Namespaces whose ServiceAccounts may be bound in tenant namespaces."}},
    applies_to=rbac.IS_ROLE_BINDING, check=check)
