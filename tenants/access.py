"""What a tenant's people may do in Kubernetes: the tenant RBAC allowlist, as data.

One owner for one fact. ``components.k8s_manifests.roles`` renders the ``tenant-admin``
and ``tenant-viewer`` Roles from :data:`ROLES`, and the policy pack (``policy.rbac``,
ISO-RBAC-08) judges every permission any tenant subject ends up with against
:func:`allows`, whatever Role, ClusterRole, aggregation or EKS access policy it came
through. Widening a tenant's rights therefore means adding a :class:`Grant` here, with
its reason, where review sees it.

What the tenant runs is the platform's apps (file server, chatbot): the platform declares
their Deployments, Services, volumes, ServiceAccounts and every fence around them.
A tenant's people operate those apps: they watch them, read their logs and events,
restart and scale them, and set their configuration and credentials. They do not write
anything that chooses a pod spec (Deployments, StatefulSets, Jobs, bare Pods: a pod spec
picks tolerations, node selectors and images, and the policy pack only judges what the
platform deploys), nor Services (``externalIPs`` intercepts other tenants' traffic,
CVE-2020-8554), Endpoints/EndpointSlices (point a Service anywhere), volume claims
(could bind a released volume by name), PodDisruptionBudgets (block every node drain),
HPAs (scale past the plan), quotas, limit ranges, NetworkPolicies, Istio objects,
cert-manager objects, RBAC or ServiceAccounts. Nothing here grants ``escalate``, ``bind``,
``impersonate``, ``serviceaccounts/token``, ``pods/exec``, ``pods/attach``,
``pods/portforward`` or any proxy subresource, or lists or watches secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

READ = ("get", "list", "watch")

#: Role names in every tenant namespace.
ADMIN_ROLE = "tenant-admin"
VIEWER_ROLE = "tenant-viewer"


@dataclass(frozen=True)
class Grant:
    """Some verbs on some resources of one API group, and why a tenant needs them."""

    api_group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str

    def rule(self) -> dict[str, Any]:
        """The RBAC PolicyRule (engine camelCase spelling)."""
        return {"apiGroups": [self.api_group], "resources": list(self.resources),
                "verbs": list(self.verbs)}


#: What reading the apps' state needs; both roles have it.
_OBSERVE = (
    Grant("", ("pods", "services", "endpoints", "configmaps", "persistentvolumeclaims",
               "serviceaccounts", "events"), READ,
          "See the apps' pods, how they are reached, their settings and volumes, and why a "
          "pod is pending or crashing. Endpoints show which pods a Service reaches."),
    Grant("", ("pods/log",), ("get",), "Read the apps' logs (get is the only verb of pods/log)."),
    Grant("", ("resourcequotas", "limitranges"), READ,
          "See the plan's budget and defaults the platform set, to size the apps within them."),
    Grant("apps", ("deployments", "statefulsets", "replicasets"), READ,
          "See the apps' rollouts and replica counts."),
    Grant("batch", ("jobs", "cronjobs"), READ, "See the apps' scheduled tasks and their runs."),
    Grant("autoscaling", ("horizontalpodautoscalers",), READ,
          "See how the apps scale within the plan's replica bounds."),
    Grant("policy", ("poddisruptionbudgets",), READ, "See how many replicas a drain keeps."),
    Grant("discovery.k8s.io", ("endpointslices",), READ,
          "The endpoints view kubectl and dashboards read today."),
    Grant("networking.k8s.io", ("networkpolicies",), READ,
          "See the network fence the platform owns, to understand a refused connection."),
)

#: Administrators of the tenant: operate the apps, never the fences around them.
ADMIN: tuple[Grant, ...] = (
    *_OBSERVE,
    Grant("security.istio.io", ("peerauthentications", "authorizationpolicies"), READ,
          "See the mesh policies the platform owns, to understand a refused request."),
    Grant("", ("pods",), ("delete",),
          "Restart a stuck pod: its controller recreates it from the platform's template. "
          "No create: pods come from controllers only (ISO-POD-14)."),
    Grant("apps", ("deployments/scale", "statefulsets/scale"), ("get", "update", "patch"),
          "Scale an app by hand; the quota bounds what the replicas may request. The scale "
          "subresource changes the replica count only, never the pod template."),
    Grant("", ("configmaps",), ("create", "update", "patch", "delete"),
          "Set the apps' non-secret configuration."),
    Grant("", ("secrets",), ("create", "update", "patch", "delete"),
          "Set the apps' credentials. Write-only: no get, list or watch, which would return "
          "every secret's data, the platform's included (ISO-RBAC-05)."),
)

#: Viewers of the tenant: read the apps' state, never secrets.
VIEWER: tuple[Grant, ...] = _OBSERVE

#: The tenant Roles, by name.
ROLES: Mapping[str, tuple[Grant, ...]] = {ADMIN_ROLE: ADMIN, VIEWER_ROLE: VIEWER}


def rules(role: str) -> list[dict[str, Any]]:
    """The PolicyRules of one tenant Role."""
    return [grant.rule() for grant in ROLES[role]]


def _index() -> frozenset[tuple[str, str, str]]:
    return frozenset((g.api_group, resource, verb) for grants in ROLES.values()
                     for g in grants for resource in g.resources for verb in g.verbs)


#: Every (API group, resource, verb) some tenant Role grants.
ALLOWED: frozenset[tuple[str, str, str]] = _index()


def allows(api_group: str, resource: str, verb: str) -> bool:
    """Whether a tenant subject may hold this permission (in its own namespaces only).

    Exact names only: ``*`` is never allowed, whatever it would expand to today.
    """
    return (api_group, resource, verb) in ALLOWED
