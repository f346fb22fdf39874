"""ISO-RBAC-02: RoleBinding subjects belong to the binding namespace's tenant."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube, tenancy
from policy.props import text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_FOREIGN = ("Bind only subjects of the namespace's own tenant (its ServiceAccounts, users and "
               "groups) or ServiceAccounts of platform namespaces.")
MSG_EVERYONE = ("Do not bind system:authenticated, system:unauthenticated or "
                "system:serviceaccounts in a tenant namespace.")

EVERYONE = frozenset({"system:authenticated", "system:unauthenticated", "system:serviceaccounts"})
SA_GROUP = "system:serviceaccounts:"


def _namespace_ok(namespace: str, own: str, platform: list[str]) -> bool:
    return namespace == own or namespace in platform


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    own = kube.namespace(res.props) or ""
    tenant = tenancy.tenant_of_namespace(own)
    platform = list(cfg.option("platformNamespaces"))
    for subject in kube.subjects_of(res.props):
        kind, name = subject.get("kind"), text(subject.get("name")) or ""
        if kind == "ServiceAccount":
            namespace = text(subject.get("namespace")) or own
            if not _namespace_ok(namespace, own, platform):
                yield MSG_FOREIGN
        elif name in EVERYONE:
            yield MSG_EVERYONE
        elif name.startswith(SA_GROUP):
            if not _namespace_ok(name[len(SA_GROUP):], own, platform):
                yield MSG_FOREIGN
        elif tenancy.looks_tenant_owned(name) and not (
                tenant and tenancy.tenants_named_in(name, [tenant])):
            yield MSG_FOREIGN


RULE = ResourceRule(
    id="ISO-RBAC-02",
    description="RoleBinding subjects belong to the tenant that owns the binding's namespace.",
    severity="high", tiers="NP", scope="tenant",
    options={"platformNamespaces": {
        "type": "array", "items": {"type": "string"},
        "default": list(tenancy.PLATFORM_NAMESPACES),
        "description": "Namespaces whose ServiceAccounts may be bound in tenant namespaces."}},
    applies_to=kube.matcher("rbac.authorization.k8s.io/RoleBinding"), check=check)
