"""The Pulumi program: build one stack (a cell or a dedicated tenant) from the registry.

``build_stack`` is the single entry point used by ``__main__.py`` (a real ``pulumi up``),
by the offline planner (under the mock engine) and by the Automation API. It declares
resources only; it reads no config and no files itself.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import ClusterRef, TenantContext
from tenants.loader import ResolvedTenant
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
    """The components every tenant gets, in whichever cluster it runs."""
    k8s.core.v1.Namespace(
        f"{ctx.id}-namespace",
        metadata={"name": ctx.names.namespace, "labels": ctx.labels},
        opts=pulumi.ResourceOptions(provider=cluster.provider),
    )


def _interim_cluster_ref(spec: StackSpec, vpc_cidr: str, dedicated_pools: bool) -> ClusterRef:
    """Placeholder until TenantCluster lands: a provider with no cluster behind it."""
    provider = k8s.Provider(f"{spec.name}-k8s", kubeconfig="{}")
    identity = aws.get_caller_identity_output()
    return ClusterRef(name=spec.name, provider=provider, oidc_provider_arn="", oidc_issuer="",
                      vpc_id="", vpc_cidr=vpc_cidr, private_subnet_ids=[],
                      node_security_group_id="", region=spec.region,
                      account_id=identity.account_id, dedicated_pools=dedicated_pools)
