"""The Pulumi program: build one stack (a cell or a dedicated tenant) from the registry.

``build_stack`` is the single entry point used by ``__main__.py`` (a real ``pulumi up``),
by the offline planner (under the mock engine) and by the Automation API. It declares
resources only; it reads no config and no files itself.
"""

from __future__ import annotations

import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import ClusterRef, TenantContext
from components.node_pool import TenantNodePool, TenantNodePoolArgs
from components.scheduling import has_dedicated_pool
from components.tenant_namespace import TenantNamespace, TenantNamespaceArgs
from components.vcluster import TenantVCluster, TenantVClusterArgs
from tenants.loader import ResolvedTenant
from tenants.models import Tier
from tenants.stacks import StackSpec


def build_stack(spec: StackSpec) -> None:
    """Declare every resource of one stack."""
    if spec.kind == "shared":
        build_cell(spec)
    else:
        build_dedicated(spec)


def _context(spec: StackSpec, tenant: ResolvedTenant) -> TenantContext:
    return TenantContext(tenant=tenant, environment=spec.environment)


# --- cell (shared-<cell>) -------------------------------------------------------------
def build_cell(spec: StackSpec) -> None:
    """A cell: host cluster, platform add-ons, shared database, then each tenant."""
    assert spec.cell is not None
    cluster = _interim_cluster_ref(spec, spec.cell.vpc_cidr, spec.cell.dedicated_pools)
    for tenant in spec.tenants:
        build_tenant(_context(spec, tenant), cluster)


# --- dedicated (tenant-<id>) ----------------------------------------------------------
def build_dedicated(spec: StackSpec) -> None:
    """A dedicated tenant: its own cluster and database, then the same tenant components."""
    tenant = spec.tenants[0]
    cluster = _interim_cluster_ref(spec, tenant.network_cidr or "", True)
    build_tenant(_context(spec, tenant), cluster)


# --- one tenant, in either kind of stack ----------------------------------------------
def build_tenant(ctx: TenantContext, cluster: ClusterRef) -> None:
    """The components every tenant gets, in whichever cluster it runs.

    Every tier gets the fenced namespace (for ``vcluster`` it is the host namespace);
    ``node`` adds its dedicated node pool, ``vcluster`` its virtual cluster in that
    namespace.
    """
    namespace = TenantNamespace(ctx.id, TenantNamespaceArgs(ctx=ctx, cluster=cluster))
    if has_dedicated_pool(ctx.tier):
        TenantNodePool(f"{ctx.id}-pool", TenantNodePoolArgs(ctx=ctx, cluster=cluster))
    if ctx.tier is Tier.VCLUSTER:
        TenantVCluster(f"{ctx.id}-vcluster",
                       TenantVClusterArgs(ctx=ctx, cluster=cluster, tenant_namespace=namespace))


def _interim_cluster_ref(spec: StackSpec, vpc_cidr: str, dedicated_pools: bool) -> ClusterRef:
    """Placeholder until TenantCluster lands: a provider with no cluster behind it."""
    provider = k8s.Provider(f"{spec.name}-k8s", kubeconfig="{}")
    identity = aws.get_caller_identity_output()
    # Placeholder OIDC issuer (no cluster behind it): IRSA trust policies refuse an empty one.
    issuer = f"oidc.eks.{spec.region}.amazonaws.com/id/INTERIM"
    return ClusterRef(name=spec.name, provider=provider,
                      oidc_provider_arn=identity.account_id.apply(
                          lambda account: f"arn:aws:iam::{account}:oidc-provider/{issuer}"),
                      oidc_issuer=issuer,
                      vpc_id="", vpc_cidr=vpc_cidr, private_subnet_ids=[],
                      node_security_group_id="", region=spec.region,
                      account_id=identity.account_id, dedicated_pools=dedicated_pools)
