"""ISO-RBAC-08 (stack): tenant subjects' effective permissions stay in their namespaces and allowlist.

Judged per subject, whatever the binding's roleRef resolves to (``policy.rbac``): the
stack's Roles and ClusterRoles, aggregated ClusterRoles and Kubernetes' built-ins. A
tenant's subjects (its groups, its ServiceAccounts, and its IAM principals through EKS
access entries) may act only in that tenant's namespaces, never on cluster-scoped objects,
and only within the tenant allowlist (``tenants.access``). Findings name the binding,
access entry or access policy association that gives the right.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import aws, kube, rbac, tenancy
from policy.props import as_map, as_str_list, text
from policy.rule import Finding, Resource, RuleConfig, StackRule
from tenants import naming

MSG_CLUSTER_BINDING = ("A ClusterRoleBinding reaches a tenant subject (a tenant:<id>: group, a "
                       "tenant namespace's ServiceAccount, a tenant principal's group or an "
                       "everyone group): it would act in every namespace and on cluster-scoped "
                       "objects. Use a RoleBinding of a tenant Role in the tenant's namespace.")
MSG_OTHER_NAMESPACE = ("A RoleBinding grants a tenant subject (or every tenant, through "
                       "system:authenticated and the like) rights in a namespace that is not "
                       "its tenant's. Bind only the namespace's own tenant's subjects.")
MSG_BEYOND_ALLOWLIST = ("The binding's roleRef, resolved through the stack's roles, aggregated "
                        "ClusterRoles and Kubernetes' built-in roles, grants a tenant subject "
                        "permissions beyond the tenant allowlist (tenants/access.py). Bind "
                        "tenant-admin or tenant-viewer.")
MSG_UNKNOWN_ROLE = ("The binding's roleRef names no Role in its namespace, no ClusterRole of the "
                    "stack and no Kubernetes built-in: a tenant subject's rights must be known. "
                    "Bind tenant-admin or tenant-viewer.")
MSG_ENTRY_GROUPS = ("An EKS access entry maps a tenant principal to a group that is not its "
                    "own tenant:<id>: group (system:masters, system:authenticated, another "
                    "tenant's or a platform group). Map it to its tenant's groups only.")
MSG_ENTRY_IDENTITY = ("A tenant principal's EKS access entry is not of type STANDARD or has a "
                      "system: username, which makes it a node or system component. Use "
                      "type STANDARD and the default username.")
MSG_ACCESS_POLICY = ("An EKS access policy associated with a tenant principal grants "
                     "permissions beyond the tenant allowlist (access policies mirror the "
                     "cluster-admin, admin, edit and view roles). Give tenant principals their "
                     "tenant groups and no access policy.")
MSG_ACCESS_SCOPE = ("An EKS access policy of a tenant principal is scoped to the cluster or to "
                    "namespaces that are not its tenant's. Scope it to type namespace and the "
                    "tenant's own namespace only.")


def _binding(binding: rbac.RbacObject, index: rbac.RoleIndex,
             identities: rbac.Identities) -> Iterator[str]:
    cluster_wide = binding.kind == "ClusterRoleBinding"
    props = binding.props
    namespace = None if cluster_wide else kube.namespace(props)
    home = tenancy.tenant_of_namespace(namespace)
    owners = set().union(*(rbac.subject_tenants(s, namespace, identities)
                           for s in kube.subjects_of(props)))
    if not owners:
        return
    if cluster_wide:
        yield MSG_CLUSTER_BINDING
        return
    if owners - {home}:
        yield MSG_OTHER_NAMESPACE
    if home not in owners:
        return
    resolved = index.resolve(kube.role_ref(props), namespace)
    if not resolved.known:
        yield MSG_UNKNOWN_ROLE
    elif rbac.beyond_allowlist(resolved.rules):
        yield MSG_BEYOND_ALLOWLIST


def _entry(entry: rbac.AccessEntry) -> Iterator[str]:
    if not entry.owners:
        return
    if len(entry.owners) > 1 or any(naming.tenant_of_group(g) not in entry.owners
                                    for g in entry.groups):
        yield MSG_ENTRY_GROUPS
    if entry.type != "STANDARD" or (entry.username or "").startswith("system:"):
        yield MSG_ENTRY_IDENTITY


def _scoped_to(owners: frozenset[str], scope: Mapping[str, Any]) -> bool:
    namespaces = as_str_list(scope.get("namespaces"))
    return (scope.get("type") == "namespace" and bool(namespaces) and len(owners) == 1
            and all(naming.tenant_of_namespace(n) in owners for n in namespaces))


def _association(props: Mapping[str, Any], owners: frozenset[str],
                 index: rbac.RoleIndex) -> Iterator[str]:
    resolved = index.access_policy(props.get("policyArn"))
    if not resolved.known or rbac.beyond_allowlist(resolved.rules):
        yield MSG_ACCESS_POLICY
    if not _scoped_to(owners, as_map(props.get("accessScope"))):
        yield MSG_ACCESS_SCOPE


def _associations(resources: Sequence[Resource], entries: Sequence[rbac.AccessEntry],
                  index: rbac.RoleIndex) -> Iterator[Finding]:
    owners_of = {e.principal: e.owners for e in entries if e.principal}
    for res in resources:
        if res.type == aws.ACCESS_POLICY_ASSOCIATION:
            owners = owners_of.get(text(res.props.get("principalArn")) or "", frozenset())
            if owners:
                for message in _association(res.props, owners, index):
                    yield Finding(message, res.urn)
    for entry in entries:
        if entry.owners and entry.resource.type in aws.CLUSTER_TYPES:
            for body in as_map(entry.resource.props.get("accessEntries")).values():
                if text(as_map(body).get("principalArn")) != entry.principal:
                    continue
                for policy in as_map(as_map(body).get("accessPolicies")).values():
                    for message in _association(as_map(policy), entry.owners, index):
                        yield Finding(message, entry.resource.urn)


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    judged = [r for r in resources if cfg.applies(r)]
    index = rbac.RoleIndex(resources)
    entries = rbac.access_entries(resources)
    identities = rbac.Identities.of(entries)
    for obj in rbac.objects(judged):
        if obj.kind in ("RoleBinding", "ClusterRoleBinding"):
            for message in _binding(obj, index, identities):
                yield Finding(message, obj.resource.urn)
    judged_urns = {r.urn for r in judged}
    for entry in entries:
        if entry.resource.urn in judged_urns:
            for message in _entry(entry):
                yield Finding(message, entry.resource.urn)
    yield from (f for f in _associations(resources, entries, index) if f.urn in judged_urns)


def _reads(type_: str) -> bool:
    return (rbac.IS_ROLE(type_) or rbac.IS_CLUSTER_ROLE(type_) or rbac.IS_ROLE_BINDING(type_)
            or rbac.IS_CLUSTER_ROLE_BINDING(type_) or type_ in aws.CLUSTER_TYPES
            or type_ in (aws.ACCESS_ENTRY, aws.ACCESS_POLICY_ASSOCIATION))


RULE = StackRule(
    id="ISO-RBAC-08",
    description=(
        "Tenant subjects (tenant groups, tenant ServiceAccounts, tenant IAM principals through "
        "EKS access entries) act only in their own tenant's namespaces, never cluster-wide, and "
        "only within the tenant allowlist, whatever their bindings' roles resolve to."
    ),
    severity="critical", tiers="NPVD", scope="all", check=check, reads=_reads)

