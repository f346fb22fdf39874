"""Who owns a resource, in which tier: read from labels, tags, namespaces and names.

Conventions of the platform's components: every tenant-owned Kubernetes object carries
``metadata.labels`` {tenant, tier, plan, app.kubernetes.io/managed-by} and lives in
``tenant-<id>``; every tenant-owned AWS resource carries tags {tenant, tier, plan,
environment, managed-by}. Anything without a tenant label, tag or tenant namespace is a
platform (cell-level) resource. Physical names embed the tenant id (``tp-<env>-<id>-...``,
``tenant-<id>``, ``t_<id>_app``, ``alias/tp/<env>/<id>/...``, ``tp/<env>/<id>/...``);
:func:`tenants_named_in` reads them back when a policy document mentions an ARN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from policy.props import EMPTY, as_map, get, text
from tenants import naming
from tenants.naming import RESERVED_TENANT_IDS

#: Label and tag keys are the components' own (``tenants.naming``), never a second spelling.
LABEL_TENANT = naming.LABEL_TENANT
LABEL_TIER = naming.LABEL_TIER
LABEL_MANAGED_BY = naming.LABEL_MANAGED_BY
MANAGED_BY = naming.MANAGED_BY
NAMESPACE_PREFIX = "tenant-"
#: Tier label/tag values and the catalogue's tier letters.
TIER_LETTER = {"namespace": "N", "node": "P", "vcluster": "V", "cluster": "D"}
#: Namespaces of the platform itself (mesh, ingress, monitoring, Kubernetes).
PLATFORM_NAMESPACES = (naming.ISTIO_NAMESPACE, naming.INGRESS_NAMESPACE, naming.MONITORING_NAMESPACE,
                       "kube-system")
#: Namespaces every cluster has besides tenants': the platform's (``tenants.naming``) and
#: Kubernetes' own. Selector rules evaluate peers against these even where the stack does
#: not declare them.
CLUSTER_NAMESPACES = (naming.ISTIO_NAMESPACE, naming.INGRESS_NAMESPACE, naming.MONITORING_NAMESPACE,
                      naming.CERT_MANAGER_NAMESPACE, naming.EXTERNAL_DNS_NAMESPACE, "kube-system",
                      "kube-public", "kube-node-lease", "default")

_NODE_GROUP_TYPES = ("aws:eks/nodeGroup:NodeGroup", "eks:index:ManagedNodeGroup")
_NON_OBJECT_K8S = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")


def is_k8s_object(type_: str) -> bool:
    """A Kubernetes API object (not a Helm chart/release, YAML group or provider)."""
    return type_.startswith("kubernetes:") and not type_.startswith(_NON_OBJECT_K8S)


def is_helm(type_: str) -> bool:
    """A Helm chart or release."""
    return type_.startswith("kubernetes:helm.sh/")


def k8s_kind(type_: str) -> str:
    """``Deployment`` from ``kubernetes:apps/v1:Deployment``."""
    return type_.rsplit(":", 1)[-1] if type_.startswith("kubernetes:") else ""


def k8s_group(type_: str) -> str:
    """``apps`` from ``kubernetes:apps/v1:Deployment``; ``""`` for the core group."""
    if not type_.startswith("kubernetes:"):
        return ""
    group = type_.split(":")[1].split("/")[0]
    return "" if group == "core" else group


def owner_labels(type_: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The labels (Kubernetes) or tags (AWS) that carry tenant and tier."""
    if is_k8s_object(type_):
        return as_map(get(props, "metadata", "labels"))
    tags = as_map(props.get("tags"))
    if type_ in _NODE_GROUP_TYPES and LABEL_TENANT not in tags:
        return as_map(props.get("labels"))
    return tags if tags else EMPTY


def namespace_of(type_: str, props: Mapping[str, Any]) -> str | None:
    """The namespace an object or chart is installed into (``None`` if unset)."""
    if is_helm(type_):
        return text(props.get("namespace"))
    if is_k8s_object(type_):
        return text(get(props, "metadata", "namespace"))
    return None


def tenant_of_namespace(namespace: str | None) -> str | None:
    """``acme`` for ``tenant-acme`` (reserved ids such as ``platform`` are never tenants)."""
    if namespace and namespace.startswith(NAMESPACE_PREFIX):
        tenant = namespace[len(NAMESPACE_PREFIX):]
        if tenant and tenant not in RESERVED_TENANT_IDS:
            return tenant
    return None


def tenant_of(type_: str, props: Mapping[str, Any]) -> str | None:
    """The tenant owning a resource: its tenant label/tag, else its tenant namespace."""
    label = text(owner_labels(type_, props).get(LABEL_TENANT))
    if label:
        return label
    if is_k8s_object(type_) and k8s_kind(type_) == "Namespace":
        return tenant_of_namespace(text(get(props, "metadata", "name")))
    return tenant_of_namespace(namespace_of(type_, props))


def tier_of(type_: str, props: Mapping[str, Any]) -> str | None:
    """The tier letter (N, P, V, D) from the tier label/tag, or ``None``."""
    value = owner_labels(type_, props).get(LABEL_TIER)
    return TIER_LETTER.get(value) if isinstance(value, str) else None


def tenant_namespace(tenant: str) -> str:
    """The namespace of a tenant (mirrors ``tenants.naming.tenant_namespace``)."""
    return NAMESPACE_PREFIX + tenant


# --- names -> tenants -----------------------------------------------------------------
_LEFT = r"(?:^|[^a-z0-9])"
_RIGHT = r"(?=$|[^a-z0-9])"
#: A name that follows a tenant naming pattern; group 1 starts with the tenant id.
_TENANT_NAME = re.compile(_LEFT + r"(?:tp-[a-z0-9]+-|tenant-|tp/[a-z0-9]+/|t_)([a-z][a-z0-9_-]*)")
#: Words after a naming prefix that name the platform, not a tenant.
_NOT_TENANTS = RESERVED_TENANT_IDS | {"cell"}


def looks_tenant_owned(name: str) -> bool:
    """Whether a physical name or ARN follows a tenant naming pattern.

    Cell names (``tp-<env>-cell-...``) and reserved ids (``tenant-platform``) do not count.
    """
    for match in _TENANT_NAME.finditer(name):
        candidate = match.group(1).replace("_", "-")
        if candidate not in _NOT_TENANTS and candidate.split("-")[0] not in _NOT_TENANTS:
            return True
    return False


def _patterns(tenant: str) -> list[re.Pattern[str]]:
    ident = re.escape(tenant)
    underscored = re.escape(tenant.replace("-", "_"))
    return [
        re.compile(_LEFT + r"tp-[a-z0-9]+-(" + ident + r")" + _RIGHT),
        re.compile(_LEFT + r"tenant-(" + ident + r")" + _RIGHT),
        re.compile(_LEFT + r"tp/[a-z0-9]+/(" + ident + r")/"),
        re.compile(r"(?:^|[^a-z0-9_])t_(" + underscored + r")(?=$|[^a-z0-9_]|_app(?:$|[^a-z0-9_]))"),
        *_database_patterns(tenant),
    ]


def _database_patterns(tenant: str) -> list[re.Pattern[str]]:
    """The tenant's PostgreSQL schema and roles, also the ``dbuser`` of its connect ARN.

    They are opaque tokens that only :func:`tenants.naming.db_token` ties to the tenant.
    """
    try:
        token = naming.db_token(tenant)
    except naming.NameError_:
        return []
    return [re.compile(r"(?:^|[^a-z0-9_])(" + token + r")(?=$|[^0-9a-f])")]


def tenants_named_in(value: str, known: Iterable[str]) -> set[str]:
    """The known tenants whose id a physical name or ARN embeds by naming convention.

    Where two ids match at the same place (``acme`` and ``acme-corp`` in
    ``tp-prod-acme-corp-files``), the longer id wins.
    """
    spans: dict[int, tuple[int, str]] = {}
    for tenant in known:
        for pattern in _patterns(tenant):
            for match in pattern.finditer(value):
                start, end = match.span(1)
                if start not in spans or end > spans[start][0]:
                    spans[start] = (end, tenant)
    return {tenant for _end, tenant in spans.values()}
