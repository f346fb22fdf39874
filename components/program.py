"""The Pulumi program: build one stack (a cell or a dedicated tenant) from the registry.

``build_stack`` is the single entry point used by ``__main__.py`` (a real ``pulumi up``),
by the offline planner (under the mock engine) and by the Automation API. It declares
resources only; it reads no config and no files itself.

Every AWS resource and data source of a stack goes through one explicit provider
(:func:`stack_provider`): in the stack's region, assuming the deploy role
(:func:`tenants.naming.deploy_role`) in the stack's account, and refusing to act in any
other account. A dedicated tenant's stack thereby deploys into the tenant's own account;
nothing of it relies on the ambient default provider. The top-level components get it
through ``providers``, and their children inherit it from their parent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

import pulumi
import pulumi_aws as aws

from components.admission import PlatformAdmission, PlatformAdmissionArgs
from components.chatbot import ChatbotStack, ChatbotStackArgs, chatbot_url
from components.cluster import CELL_WORKLOAD_POOL, ClusterMode, TenantCluster, TenantClusterArgs
from components.context import ClusterRef, TenantContext
from components.database import (
    EMPTY_CELL_DATABASE_SIZE,
    CellDatabase,
    CellDatabaseArgs,
    CellDatabaseRef,
    TenantDatabase,
    TenantDatabaseArgs,
)
from components.db_documents import cell_database_size
from components.fileserver import FileServerStack, FileServerStackArgs
from components.monitoring import TenantMonitoring, TenantMonitoringArgs
from components.node_pool import TenantNodePool, TenantNodePoolArgs
from components.platform_addons import PlatformAddons, PlatformAddonsArgs
from components.scheduling import has_dedicated_pool
from components.tenant_namespace import TenantNamespace, TenantNamespaceArgs
from components.vcluster import TenantVCluster, TenantVClusterArgs
from tenants import naming
from tenants.loader import ResolvedTenant
from tenants.models import Tier
from tenants.naming import CellNames
from tenants.stacks import StackSpec


def build_stack(spec: StackSpec, only: Collection[str] | None = None) -> None:
    """Declare every resource of one stack.

    ``only`` (a cell only; ``None`` for a real deployment): declare the cell's shared part
    and just these of its tenants, for the offline planner's slices of a large cell
    (``tenantctl.cell_slices``). The shared part is the same whichever tenants a slice
    declares: it reads every tenant of the spec, never which ones are declared.
    """
    if spec.kind == "shared":
        build_cell(spec, only)
    elif only is not None:
        raise ValueError(f"stack {spec.name!r} is dedicated: it has no slices of tenants")
    else:
        build_dedicated(spec)


def stack_provider(spec: StackSpec, partition: str = "aws") -> aws.Provider:
    """The stack's AWS provider: its region, and its account's deploy role when it names one."""
    if spec.account is None:
        return aws.Provider(f"{spec.name}-aws", region=spec.region)
    role = f"arn:{partition}:iam::{spec.account}:role/{naming.deploy_role(spec.environment)}"
    return aws.Provider(
        f"{spec.name}-aws", region=spec.region, allowed_account_ids=[spec.account],
        assume_roles=[aws.ProviderAssumeRoleArgs(role_arn=role, session_name=spec.name)])


def _context(spec: StackSpec, tenant: ResolvedTenant) -> TenantContext:
    return TenantContext(tenant=tenant, environment=spec.environment, images=spec.images,
                         release_repository=spec.release_repository)


# --- cell (shared-<cell>) -------------------------------------------------------------
def build_cell(spec: StackSpec, only: Collection[str] | None = None) -> None:
    """A cell: host cluster, platform add-ons, shared database, then each tenant (of ``only``)."""
    assert spec.cell is not None
    cell = spec.cell
    tags = {naming.LABEL_CELL: cell.name, "environment": spec.environment, "managed-by": naming.MANAGED_BY}
    provider = stack_provider(spec)
    opts = pulumi.ResourceOptions(providers=[provider])
    cluster = _host_cluster(spec, provider, TenantClusterArgs(
        names=CellNames(cell.name, spec.environment).cluster_names, vpc_cidr=cell.vpc_cidr,
        region=spec.region, workload_pool=CELL_WORKLOAD_POOL, public_access_cidrs=cell.public_access_cidrs,
        tags=tags, dedicated_pools=cell.dedicated_pools, deploy_runner=spec.deploy_runner,
        availability_zone_ids=spec.zone_ids))
    names = CellNames(cell.name, spec.environment)
    database = CellDatabase(names.db_identifier, CellDatabaseArgs(
        # Offboarded tenants' logins are not offered by the proxy (it expects the others).
        names=names, cluster=cluster,
        tenant_ids=[t.id for t in spec.tenants if not _context(spec, t).retired], tags=tags,
        declared_tenants=only,
        size=cell_database_size([t.plan.database for t in spec.tenants], EMPTY_CELL_DATABASE_SIZE)),
        opts)
    for tenant in spec.tenants:
        ctx = _context(spec, tenant)
        if only is not None and tenant.id not in only:
            continue
        if not ctx.data_destroyed:  # its data destroyed: nothing of it is declared any more
            build_tenant(ctx, cluster, database.ref, opts)


# --- dedicated (tenant-<id>) ----------------------------------------------------------
def build_dedicated(spec: StackSpec) -> None:
    """A dedicated tenant: its own cluster and database, then the same tenant components."""
    ctx = _context(spec, spec.tenants[0])
    if ctx.tenant.network_cidr is None:
        raise ValueError(f"dedicated tenant {ctx.id!r} has no network_cidr: the registry allocates one")
    if ctx.data_destroyed:  # offboarded, data destroyed: the stack declares nothing
        return
    # The tenant's own names (roles, keys, aliases, cluster) and tags on every resource,
    # in the tenant's own account (its stack's provider).
    provider = stack_provider(spec)
    cluster = _host_cluster(spec, provider, TenantClusterArgs(
        names=ctx.names.cluster_names, vpc_cidr=ctx.tenant.network_cidr, region=spec.region,
        workload_pool=ctx.tenant.plan.node_pool, tags=ctx.tags, deploy_runner=spec.deploy_runner,
        availability_zone_ids=spec.zone_ids,
        # The tenant's own account holds only this stack: it owns the Auto Scaling role.
        autoscaling_role="declare", mode=dedicated_cluster_mode(ctx), release_data=ctx.releasing_data))
    build_tenant(ctx, cluster, opts=pulumi.ResourceOptions(providers=[provider]))


def dedicated_cluster_mode(ctx: TenantContext) -> ClusterMode:
    """Active: serving; retiring: released (deletable next); offboarded: data only."""
    declared = ctx.tenant.record.lifecycle.dedicated_stack
    return "serving" if declared == "nothing" else declared  # nothing: no cluster is built at all


# --- one tenant, in either kind of stack ----------------------------------------------
def build_tenant(ctx: TenantContext, cluster: ClusterRef, cell_database: CellDatabaseRef | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
    """The components every tenant gets, in whichever cluster it runs.

    Every tier gets the fenced namespace (for ``vcluster`` it is the host namespace);
    ``node`` adds its dedicated node pool, ``vcluster`` its virtual cluster in that
    namespace. Every tenant gets its database: its schema in the cell's PostgreSQL
    (``cell_database`` given) or, in its own stack, its own instance and proxy. ``opts``
    carries the stack's AWS provider to every component.
    """
    namespace = TenantNamespace(ctx.id, TenantNamespaceArgs(ctx=ctx, cluster=cluster), opts)
    database = TenantDatabase(f"{ctx.id}-db", TenantDatabaseArgs(
        ctx=ctx, cluster=cluster, mode="dedicated" if cell_database is None else "schema",
        cell=cell_database, workload_role_names=[i.role.name for i in namespace.identities.values()]),
        opts)
    # A retired (offboarded) tenant keeps its data only: no pool (its key holds no data), no vcluster.
    nodes: list[pulumi.Resource] = []
    if has_dedicated_pool(ctx.tier) and not ctx.retired:
        pool = TenantNodePool(f"{ctx.id}-pool", TenantNodePoolArgs(ctx=ctx, cluster=cluster), opts)
        nodes.append(pool.node_group)
    if ctx.tier is Tier.VCLUSTER and not ctx.retired:
        TenantVCluster(f"{ctx.id}-vcluster",
                       TenantVClusterArgs(ctx=ctx, cluster=cluster, tenant_namespace=namespace), opts)
    build_workloads(ctx, cluster, namespace, database, opts, scheduled_on=nodes)


def build_workloads(ctx: TenantContext, cluster: ClusterRef, namespace: TenantNamespace,
                    database: TenantDatabase, opts: pulumi.ResourceOptions | None = None, *,
                    scheduled_on: Sequence[pulumi.Resource] = ()) -> list[str]:
    """The tenant's file server and chatbot, as its registry features say, and their monitoring.

    The same components run in a cell and in a dedicated cluster. The chatbot reads the
    file server's bucket and key and keeps its vectors in the tenant's database (through
    the proxy, IAM auth). Returns the workloads declared. A retired tenant keeps only the
    file server's storage (its bucket and key): no workload runs and none is returned.
    ``scheduled_on``: the node group the pods are pinned to (a ``node``-tier tenant's
    pool), which their Deployments depend on (:class:`components.workload.TenantWorkloadArgs`).
    """
    features = ctx.tenant.record.features
    if not features.fileserver:
        return []
    identities = namespace.identities
    chatbot_role = [identities["chatbot"].role.arn] if "chatbot" in identities else []
    files = FileServerStack(f"{ctx.id}-files", FileServerStackArgs(
        ctx=ctx, cluster=cluster, namespace=namespace.namespace_name, identity=identities["fileserver"],
        peer_role_arns=chatbot_role,
        chatbot_url=chatbot_url(ctx.names.namespace) if features.chatbot else None,
        scheduled_on=scheduled_on), opts)
    if ctx.retired:
        return []
    workloads = ["fileserver"]
    if features.chatbot:
        ChatbotStack(f"{ctx.id}-chat", ChatbotStackArgs(
            ctx=ctx, cluster=cluster, namespace=namespace.namespace_name, identity=identities["chatbot"],
            bucket_name=files.bucket_name, bucket_arn=files.bucket_arn, key_arn=files.key_arn,
            database_endpoint=database.proxy_endpoint, database_port=database.port,
            database_name=database.database_name, database_user=database.user,
            database_schema=database.schema, scheduled_on=scheduled_on), opts)
        workloads.append("chatbot")
    TenantMonitoring(f"{ctx.id}-monitoring", TenantMonitoringArgs(
        ctx=ctx, cluster=cluster, workloads=workloads, depends_on=[namespace]), opts)
    return workloads


def _host_cluster(spec: StackSpec, provider: aws.Provider, args: TenantClusterArgs) -> ClusterRef:
    """The stack's cluster and platform add-ons; the ref tenant components deploy through.

    The platform admin role (account bootstrap) is the cluster's one admin access entry and
    the identity the Kubernetes provider assumes. Tenant components get the add-ons'
    provider, which waits for the CRDs, webhooks and storage class they rely on.
    """
    opts = pulumi.ResourceOptions(providers=[provider])
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider))
    admin = identity.account_id.apply(
        lambda account: f"arn:{args.partition}:iam::{account}:role/"
                        f"{naming.platform_admin_role(spec.environment)}")
    cluster = TenantCluster(args.names.cluster, dataclasses.replace(
        args, admin_principals={"platform-admin": admin}, kubeconfig_role_arn=admin), opts)
    if args.mode == "data":  # no Kubernetes API: no admission, no add-ons
        return cluster.ref()
    # Tenant admission (every cluster): tenant objects wait for it through the add-ons' provider.
    admission = PlatformAdmission(f"{args.names.cluster}-admission", PlatformAdmissionArgs(
        cluster=cluster.ref(), environment=spec.environment), opts)
    addons = PlatformAddons(f"{args.names.cluster}-addons", PlatformAddonsArgs(
        cluster=cluster.ref(), names=args.names, kubeconfig=cluster.kubeconfig,
        volume_key_arn=cluster.volume_key_arn,
        # Only the placement serving a host gets its DNS and certificate grants: during a
        # migration, the one the registry says serves it (tenants.placements).
        hostnames=[t.hostname for t in spec.tenants if t.serving],
        dns_zones=spec.dns_zones, wait_for=[admission]), opts)
    return dataclasses.replace(cluster.ref(), provider=addons.tenant_provider)
