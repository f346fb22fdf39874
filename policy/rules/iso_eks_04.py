"""ISO-EKS-04: access entries only; tenant access is namespace-scoped and never cluster admin."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import aws, tenancy
from policy.props import as_list, as_map, get, is_false, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_AUTH_MODE = "Set authenticationMode to API (access entries only, no aws-auth ConfigMap)."
MSG_BOOTSTRAP = "Set accessConfig.bootstrapClusterCreatorAdminPermissions to false."
MSG_TENANT_SCOPE = ("Scope tenant access policies to the tenant's own namespaces "
                    "(accessScope type namespace, namespaces tenant-<id>).")
MSG_TENANT_ADMIN = "Never associate AmazonEKSClusterAdminPolicy with a tenant principal."
MSG_TENANT_ENTRY_TYPE = "Give tenant access entries type STANDARD."

CLUSTER_ADMIN = "AmazonEKSClusterAdminPolicy"


def _is_tenant(principal: Any, scope: Mapping[str, Any], entry_tags: Mapping[str, Any]) -> bool:
    namespaces = [n for n in as_list(scope.get("namespaces")) if isinstance(n, str)]
    return (tenancy.LABEL_TENANT in entry_tags
            or tenancy.looks_tenant_owned(text(principal) or "")
            or any(tenancy.tenant_of_namespace(n) for n in namespaces))


def _association(principal: Any, policy_arn: Any, scope: Mapping[str, Any],
                 entry_tags: Mapping[str, Any]) -> Iterator[str]:
    if not _is_tenant(principal, scope, entry_tags):
        return
    if str(policy_arn).rsplit("/", 1)[-1] == CLUSTER_ADMIN:
        yield MSG_TENANT_ADMIN
    namespaces = [n for n in as_list(scope.get("namespaces")) if isinstance(n, str)]
    tenants = {tenancy.tenant_of_namespace(n) for n in namespaces}
    if scope.get("type") != "namespace" or not namespaces or None in tenants or len(tenants) != 1:
        yield MSG_TENANT_SCOPE


def _cluster(res: Resource) -> Iterator[str]:
    mode = aws.cluster_setting(res.type, res.props, ("accessConfig", "authenticationMode"),
                               "authenticationMode")
    if mode != "API":
        yield MSG_AUTH_MODE
    if res.type == aws.EKS_CLUSTER and not is_false(
            get(res.props, "accessConfig", "bootstrapClusterCreatorAdminPermissions")):
        yield MSG_BOOTSTRAP
    for entry in as_map(res.props.get("accessEntries")).values():
        entry = as_map(entry)
        tags = as_map(entry.get("tags"))
        for policy in as_map(entry.get("accessPolicies")).values():
            policy = as_map(policy)
            yield from _association(entry.get("principalArn"), policy.get("policyArn"),
                                    as_map(policy.get("accessScope")), tags)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    props = res.props
    if res.type in aws.CLUSTER_TYPES:
        yield from _cluster(res)
    elif res.type == aws.ACCESS_POLICY_ASSOCIATION:
        yield from _association(props.get("principalArn"), props.get("policyArn"),
                                as_map(props.get("accessScope")), {})
    elif _is_tenant(props.get("principalArn"), {}, aws.tags(props)) \
            and props.get("type", "STANDARD") != "STANDARD":
        yield MSG_TENANT_ENTRY_TYPE


RULE = ResourceRule(
    id="ISO-EKS-04",
    description=(
        "EKS uses API authentication without bootstrapped creator admin; tenant access policies "
        "are namespace-scoped and never ClusterAdmin."
    ),
    severity="critical", tiers="NPVD", scope="all",
    applies_to=lambda t: t in aws.CLUSTER_TYPES or t in (aws.ACCESS_ENTRY, aws.ACCESS_POLICY_ASSOCIATION),
    check=check)
