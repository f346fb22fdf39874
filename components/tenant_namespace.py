"""TenantNamespace: everything that fences one tenant inside a cluster.

Used for every tenant in every cluster, shared or dedicated, and for the host namespace
of a ``vcluster``-tier tenant: one namespace with Pod Security ``restricted``, a quota and
limit range from the plan, default-deny network policies, tenant-scoped RBAC (and EKS
access entries that map the tenant's IAM principals to its groups), one ServiceAccount and
IRSA role per workload, and the Istio objects that make the mesh enforce the same fence
(mTLS STRICT, per-namespace authorization, a proxy scope) plus the tenant's request rate
limit on the shared ingress gateway. What each object does and why is documented on its
builder in :mod:`components.k8s_manifests`.

Every object in the namespace depends on the Namespace resource, so a real ``pulumi up``
creates the namespace first and deletes it last. The Namespace is protected and retained
on delete: deleting it would delete the tenant's volumes and secrets with it, and
offboarding never destroys data without an explicit step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import k8s_manifests as m
from components.context import ClusterRef, TenantContext
from components.identity import WorkloadIdentity, WorkloadIdentityArgs, object_name
from components.network import private_cidrs
from tenants import naming
from tenants.models import Tier

_TYPED: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def declare(name: str, manifest: m.Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Declare one manifest as its typed Kubernetes resource (custom resources generically).

    Typed classes keep the engine's type tokens (``kubernetes:core/v1:ResourceQuota``)
    that policies and the plan key on.
    """
    body = dict(manifest)
    api_version, kind = body.pop("apiVersion"), body.pop("kind")
    cls = _TYPED.get((api_version, kind))
    if cls is None:
        return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind,
                                                metadata=body.pop("metadata"), spec=body.pop("spec"),
                                                opts=opts)
    resource: pulumi.CustomResource = cls(name, **{_snake(k): v for k, v in body.items()}, opts=opts)
    return resource


def locks_egress_to_registry(tier: Tier) -> bool:
    """Whether the namespace's proxies refuse destinations outside the mesh registry.

    Every tier gets a Sidecar scoping egress hosts to its own and the mesh's namespace;
    this decides only its outbound traffic policy (and the ServiceEntries). True where the
    platform writes every workload (its egress is known: AWS APIs and the database). False
    for ``vcluster``: the tenant runs its own workloads through its virtual cluster, whose
    chart-managed network policy grants public egress; the NetworkPolicies still keep them
    off other tenants and the metadata service.
    """
    return tier is not Tier.VCLUSTER


@dataclass(frozen=True, kw_only=True)
class TenantNamespaceArgs:
    """Inputs of :class:`TenantNamespace`.

    ``admin_groups`` / ``viewer_groups``: Kubernetes groups bound to the tenant-admin and
    tenant-viewer Roles; default ``tenant:<id>:admins`` / ``tenant:<id>:viewers``. Every
    group must start with ``tenant:<id>:`` (ISO-RBAC-02).
    ``admin_principal_arns`` / ``viewer_principal_arns``: IAM roles or users that get an EKS
    access entry mapping them to those groups (no access policy: RBAC comes from the
    namespaced RoleBindings only); default none. EKS allows one access entry per principal
    and cluster, so a principal belongs to exactly one tenant.
    ``database_cidrs``: where the tenant's database endpoint (RDS Proxy) lives, reached on
    5432; default the cluster's private subnets (:func:`components.network.private_cidrs`,
    where the database subnet group and proxy are placed), never the whole VPC. Empty: no
    database egress.
    """

    ctx: TenantContext
    cluster: ClusterRef
    admin_groups: Sequence[str] | None = None
    viewer_groups: Sequence[str] | None = None
    admin_principal_arns: Sequence[str] = ()
    viewer_principal_arns: Sequence[str] = ()
    database_cidrs: Sequence[str] | None = None


def _groups(ctx: TenantContext, given: Sequence[str] | None, default: str) -> list[str]:
    groups = [default] if given is None else list(given)
    prefix = f"{naming.TENANT_GROUP_PREFIX}{ctx.id}:"
    for group in groups:
        if not group.startswith(prefix) or group == prefix:
            raise ValueError(f"group {group!r} of tenant {ctx.id!r} must start with {prefix!r}: "
                             "a tenant's RoleBindings may only name the tenant's own groups")
    if not groups:
        raise ValueError(f"tenant {ctx.id!r} needs at least one group per role")
    return groups


def _principal_key(arn: str) -> str:
    """A stable, readable logical-name suffix for an IAM principal ARN."""
    if not re.match(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/", arn):
        raise ValueError(f"{arn!r} is not an IAM role or user ARN")
    return re.sub(r"[^a-z0-9-]", "-", arn.rsplit("/", 1)[-1].lower())


class TenantNamespace(pulumi.ComponentResource):
    """The tenant's namespace and every control that fences it (see module docstring)."""

    namespace_name: pulumi.Output[str]
    identities: dict[str, WorkloadIdentity]

    def __init__(self, name: str, args: TenantNamespaceArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:TenantNamespace", name, None, opts)
        ctx, cluster = args.ctx, args.cluster
        admin_groups = _groups(ctx, args.admin_groups, ctx.names.admin_group)
        viewer_groups = _groups(ctx, args.viewer_groups, ctx.names.viewer_group)
        database_cidrs = (private_cidrs(cluster.vpc_cidr) if args.database_cidrs is None
                          else list(args.database_cidrs))
        ns_name, labels = ctx.names.namespace, ctx.labels

        if not cluster.serving:
            # A data-only stack (offboarded dedicated tenant) has no cluster: only the
            # identity its bucket and key policies name stays (enabled_workloads).
            self.namespace_name = pulumi.Output.from_input(ns_name)
            self._identities(name, ctx, cluster)
            return
        keep = not (ctx.releasing_cluster or ctx.releasing_data)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=m.namespace(ns_name, labels, cluster.kubernetes_version)["metadata"],
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider, protect=keep,
                                        retain_on_delete=keep))
        inside = pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=[namespace])
        objects: list[tuple[str, m.Manifest]] = [
            ("quota", m.resource_quota(ns_name, labels, ctx.tenant.plan.quota)),
            ("limits", m.limit_range(ns_name, labels, ctx.tenant.plan.container_defaults)),
        ]
        objects += [(f"netpol-{p['metadata']['name']}", p) for p in m.network_policies(
            ns_name, labels, vpc_cidr=cluster.vpc_cidr, database_cidrs=database_cidrs)]
        objects += [(f"role-{r['metadata']['name']}", r) for r in m.roles(ns_name, labels)]
        if not ctx.retired:  # an offboarded tenant's people keep no rights in its namespace
            objects += [
                ("binding-admins", m.role_binding("tenant-admins", m.ADMIN_ROLE, ns_name, labels,
                                                  admin_groups)),
                ("binding-viewers", m.role_binding("tenant-viewers", m.VIEWER_ROLE, ns_name, labels,
                                                   viewer_groups)),
            ]
        objects.append(("mesh-peer-authentication", m.peer_authentication(ns_name, labels)))
        objects += [(f"mesh-authz-{p['metadata']['name']}", p)
                    for p in m.authorization_policies(ns_name, labels)]
        registry_only = locks_egress_to_registry(ctx.tier)
        objects.append(("mesh-sidecar", m.sidecar(ns_name, labels, registry_only=registry_only)))
        if registry_only:
            objects += [(f"mesh-egress-{e['metadata']['name']}", e)
                        for e in m.service_entries(ns_name, labels, database_cidrs)]
        for role, manifest in objects:
            declare(f"{name}-{role}", manifest, inside)

        if not ctx.retired:  # no host is served for an offboarded tenant
            gateway_labels = {naming.LABEL_MANAGED_BY: naming.MANAGED_BY, naming.LABEL_FOR_TENANT: ctx.id}
            declare(f"{name}-gateway-rate-limit",
                    m.gateway_rate_limit(ctx.id, ctx.tenant.hostname, ctx.tenant.plan.rate_limit_rps,
                                         gateway_labels),
                    pulumi.ResourceOptions(parent=self, provider=cluster.provider))

        principals = () if ctx.retired else (("admin", admin_groups, args.admin_principal_arns),
                                             ("viewer", viewer_groups, args.viewer_principal_arns))
        for kind, group, arns in principals:
            for arn in arns:
                aws.eks.AccessEntry(
                    f"{name}-access-{kind}-{_principal_key(arn)}",
                    cluster_name=cluster.name, principal_arn=arn, type="STANDARD",
                    kubernetes_groups=group, tags=ctx.tags,
                    opts=pulumi.ResourceOptions(parent=self))

        self.namespace_name = namespace.metadata.apply(object_name)
        self._identities(name, ctx, cluster)

    def _identities(self, name: str, ctx: TenantContext, cluster: ClusterRef) -> None:
        self.identities = {
            workload: WorkloadIdentity(
                f"{name}-{workload}",
                WorkloadIdentityArgs(ctx=ctx, cluster=cluster, workload=workload,
                                     namespace=self.namespace_name),
                pulumi.ResourceOptions(parent=self))
            for workload in enabled_workloads(ctx)
        }
        self.register_outputs({
            "namespace_name": self.namespace_name,
            "identities": {w: i.role.arn for w, i in self.identities.items()},
        })


def enabled_workloads(ctx: TenantContext) -> list[str]:
    """The tenant's workloads that have an identity, in the platform's order.

    A retired tenant keeps only the file server's: its bucket and key policies name a
    tenant role (KMS refuses a key policy naming a role that no longer exists), and that
    role, with no permissions left and no pod able to run as it, reaches nothing.
    """
    workloads = ctx.tenant.record.features.workloads
    return [w for w in workloads if w == "fileserver"] if ctx.retired else workloads
