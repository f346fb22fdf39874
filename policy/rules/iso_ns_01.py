"""ISO-NS-01: tenant objects live only in their tenant's namespace, never default or kube-*."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube, tenancy
from policy.props import text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_NAMESPACE_NAME = "Name the tenant Namespace 'tenant-<id>' after its tenant label (metadata.name)."
MSG_NO_NAMESPACE = ("Set metadata.namespace to the tenant's namespace 'tenant-<id>'; "
                    "an unset namespace means 'default'.")
MSG_SYSTEM_NAMESPACE = "Move the object out of 'default' and 'kube-*' into its tenant namespace."
MSG_OTHER_NAMESPACE = "Set metadata.namespace to 'tenant-<id>' matching the object's tenant label."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    # A <Kind>Patch writes an object of <Kind>: judged where that object lives.
    kind = tenancy.k8s_kind(res.type).removesuffix(kube.PATCH_SUFFIX) or tenancy.k8s_kind(res.type)
    tenant = text(tenancy.owner_labels(res.type, res.props).get(tenancy.LABEL_TENANT))
    if kind == "Namespace":
        if tenant and kube.name(res.props) != tenancy.tenant_namespace(tenant):
            yield MSG_NAMESPACE_NAME
        return
    if kind in kube.CLUSTER_SCOPED_KINDS:
        return
    namespace = kube.namespace(res.props)
    if namespace is None:
        yield MSG_NO_NAMESPACE
    elif namespace == "default" or namespace.startswith("kube-"):
        yield MSG_SYSTEM_NAMESPACE
    elif tenant and namespace != tenancy.tenant_namespace(tenant):
        yield MSG_OTHER_NAMESPACE


RULE = ResourceRule(
    id="ISO-NS-01",
    description=(
        "Tenant objects live only in their own tenant-<id> namespace, never default or kube-*."
    ),
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=tenancy.is_k8s_object, check=check)
