"""Where a tenant's pods may run, and the security context every tenant pod runs with.

One definition shared by every component that renders a pod template (the file server,
the chatbot, the vCluster control plane), so that the node-pool fence and the restricted
Pod Security baseline cannot drift between workloads.

Placement: a taint only keeps *other* tenants' pods off a dedicated pool; the tenant's
own pods also need the matching node selector, or they would land on shared nodes
(POLICY-RULES misconfiguration 7). The toleration names its key, value and effect
exactly: a key-less ``operator: Exists`` toleration would let a pod land anywhere.
"""

from __future__ import annotations

from typing import Any

from components.context import TenantContext
from tenants import naming
from tenants.models import Tier

#: Kubernetes taint effect of a dedicated pool, and the EKS API's spelling of the same.
TAINT_EFFECT = "NoSchedule"
EKS_TAINT_EFFECT = "NO_SCHEDULE"

#: Non-root user and group every tenant container runs as unless its image says otherwise.
RUNTIME_UID = 10001
RUNTIME_GID = 10001


def has_dedicated_pool(tier: Tier) -> bool:
    """True for tiers whose pods run on a node group of their own (``node``)."""
    return tier is Tier.NODE


def pool_labels(tenant_id: str) -> dict[str, str]:
    """Kubernetes labels of a tenant's dedicated nodes; the pods' node selector."""
    return {naming.LABEL_TENANT: naming.validate_tenant_id(tenant_id)}


def pool_taint(tenant_id: str) -> dict[str, str]:
    """The taint of a tenant's dedicated nodes (``tenant=<id>:NoSchedule``)."""
    return {"key": naming.LABEL_TENANT, "value": naming.validate_tenant_id(tenant_id),
            "effect": TAINT_EFFECT}


def toleration_for(taint: dict[str, str]) -> dict[str, str]:
    """The one toleration that matches exactly this taint (never a key-less ``Exists``)."""
    return {"key": taint["key"], "operator": "Equal", "value": taint["value"],
            "effect": taint["effect"]}


def toleration_string(taint: dict[str, str]) -> str:
    """The taint as ``key=value:Effect``, the form vCluster's ``enforceTolerations`` takes."""
    return f"{taint['key']}={taint['value']}:{taint['effect']}"


def pod_placement(ctx: TenantContext) -> dict[str, Any]:
    """Node selector and toleration every pod of this tenant must carry.

    Returns ``{"nodeSelector": {...}, "tolerations": [...]}`` (engine spelling, ready to
    merge into a pod spec) for a tenant with a dedicated pool, and ``{}`` for tiers
    without one: their pods run on the cell's shared nodes (or on a dedicated
    cluster's own nodes), and an empty selector must not appear in their manifests.
    """
    if not has_dedicated_pool(ctx.tier):
        return {}
    return {"nodeSelector": pool_labels(ctx.id),
            "tolerations": [toleration_for(pool_taint(ctx.id))]}


def restricted_security_context() -> dict[str, Any]:
    """Pod-level security context meeting Pod Security ``restricted`` (v1.33).

    Pod-level, so it also covers containers the platform does not write itself (the
    mesh's injected proxy): non-root user and group, seccomp ``RuntimeDefault``, and an
    fsGroup so that mounted volumes are writable by that user.
    """
    return {
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_UID,
        "runAsGroup": RUNTIME_GID,
        "fsGroup": RUNTIME_GID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(*, read_only_root: bool = True) -> dict[str, Any]:
    """Container-level security context meeting Pod Security ``restricted`` (v1.33).

    Restricted requires ``allowPrivilegeEscalation: false`` and dropping ALL capabilities
    on every container (init and ephemeral included); the non-root and seccomp settings
    are repeated so the container is compliant even if copied into another pod.
    ``read_only_root`` (default on) is the catalogue's ISO-POD-11; turn it off only for
    third-party software that writes outside its volumes, and say why where you do.
    """
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_UID,
        "runAsGroup": RUNTIME_GID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
