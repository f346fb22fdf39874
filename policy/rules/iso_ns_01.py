"""ISO-NS-01: tenant objects live only in their tenant's namespace, never default or kube-*.

The platform keeps nothing in ``default``: its objects live in their own namespaces. So an
object in ``default`` (or a workload, Service, Secret... with no namespace, which means
``default``) that carries neither a tenant label nor a tenant namespace is a tenant object
that lost its labels on the way, and every tenant-scoped rule would skip it. It is judged
here for that reason (the rule's scope is ``all``; everything else it checks is tenant-owned).
"""

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
MSG_UNOWNED_DEFAULT = ("Put the object in its tenant's namespace with its tenant labels: nothing "
                       "of the platform lives in 'default', and an unlabelled object there escapes "
                       "every tenant rule.")
#: Kinds that are always namespaced, so an unset namespace means ``default``.
NAMESPACED_KINDS = frozenset({
    "Service", "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy",
    "PersistentVolumeClaim", "Ingress", "ResourceQuota", "LimitRange", "HorizontalPodAutoscaler",
    "PodDisruptionBudget", "Endpoints", "EndpointSlice", "Lease"})


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
    if tenancy.tenant_of(res.type, res.props) is None:
        if namespace == "default" or (namespace is None and (
                kube.is_workload(res.type) or kind in NAMESPACED_KINDS)):
            yield MSG_UNOWNED_DEFAULT
        return
    if namespace is None:
        yield MSG_NO_NAMESPACE
    elif namespace == "default" or namespace.startswith("kube-"):
        yield MSG_SYSTEM_NAMESPACE
    elif tenant and namespace != tenancy.tenant_namespace(tenant):
        yield MSG_OTHER_NAMESPACE


RULE = ResourceRule(
    id="ISO-NS-01",
    description=(
        "Tenant objects live only in their own tenant-<id> namespace, never default or kube-*, and"
        " no unlabelled object lives in default."
    ),
    severity="high", tiers="NPVD", scope="all",
    applies_to=tenancy.is_k8s_object, check=check)
