"""ISO-NS-06: admin-owned fences are labelled, and no tenant Role can modify them."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube, rbac, tenancy
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_UNLABELED = ("Label admin-owned ResourceQuota, LimitRange, NetworkPolicy and RoleBinding "
                 "objects app.kubernetes.io/managed-by=tenant-platform.")
MSG_ROLE_MODIFIES = ("Remove write verbs on resourcequotas, limitranges, networkpolicies, roles, "
                     "rolebindings, Istio security policies, Sidecars and ServiceEntries from the "
                     "tenant Role.")

ADMIN_OWNED = kube.matcher("ResourceQuota", "LimitRange", "networking.k8s.io/NetworkPolicy",
                           "rbac.authorization.k8s.io/RoleBinding")


def IS_ROLE(type_: str) -> bool:  # noqa: N802 (a predicate constant, as in policy.rbac)
    """Roles and tenant-labelled ClusterRoles (a RoleBinding can refer to one), patches included."""
    return rbac.IS_ROLE(type_) or rbac.IS_CLUSTER_ROLE(type_)


#: The fences the platform puts in every tenant namespace (``components.k8s_manifests``):
#: quota, limit range, NetworkPolicies (``extensions`` is their old group), the tenant's
#: Roles and RoleBindings, and the mesh's PeerAuthentication, AuthorizationPolicies,
#: Sidecar and ServiceEntries.
FENCES = (
    ({""}, {"resourcequotas", "limitranges"}),
    ({"networking.k8s.io", "extensions"}, {"networkpolicies"}),
    ({"rbac.authorization.k8s.io"}, {"roles", "rolebindings"}),
    ({"security.istio.io"}, {"authorizationpolicies", "peerauthentications"}),
    ({"networking.istio.io"}, {"sidecars", "serviceentries"}),
)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_ROLE(res.type):
        if any(kube.grants(rule, groups, resources, kube.WRITE_VERBS)
               for obj in rbac.objects([res]) for rule in kube.rules_of(obj.props)
               for groups, resources in FENCES):
            yield MSG_ROLE_MODIFIES
    elif kube.labels(res.props).get(tenancy.LABEL_MANAGED_BY) != tenancy.MANAGED_BY:
        yield MSG_UNLABELED


RULE = ResourceRule(
    id="ISO-NS-06",
    description=(
        "Admin-owned quotas, LimitRanges, NetworkPolicies and RoleBindings are labelled as such, "
        "and no tenant Role can modify them."
    ),
    severity="high", tiers="NP", scope="tenant",
    applies_to=lambda t: ADMIN_OWNED(t) or IS_ROLE(t), check=check)
