"""The values every tenant component receives: who the tenant is and where it runs.

``TenantContext`` carries the resolved tenant (plan spec, names, labels, tags);
``ClusterRef`` carries the cluster-level outputs tenant components attach to. Both are
plain frozen dataclasses, so a component test builds them from literals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.versions import KUBERNETES_VERSION
from tenants import naming
from tenants.lifecycle import State
from tenants.loader import ResolvedTenant
from tenants.models import Tier
from tenants.naming import TenantNames


@dataclass(frozen=True, kw_only=True)
class TenantContext:
    """A resolved tenant in one environment."""

    tenant: ResolvedTenant
    environment: str
    #: The released image digest of each workload (``_platform.yaml`` ``images``).
    images: Mapping[str, str] = field(default_factory=dict)
    #: Where released images are published (``_platform.yaml`` ``release_repository``).
    release_repository: str = "public.ecr.aws/tenant-platform"

    def image_digest(self, workload: str) -> str:
        """The released digest of a workload's image, or a ValueError saying where to set it."""
        try:
            return self.images[workload]
        except KeyError:
            raise ValueError(f"no released digest for the {workload} image of tenant {self.id!r}: "
                             f"set images.{workload} in _platform.yaml") from None

    @property
    def id(self) -> str:
        """The tenant id."""
        return self.tenant.id

    @property
    def tier(self) -> Tier:
        """The tenant's isolation tier."""
        return self.tenant.tier

    @property
    def retired(self) -> bool:
        """Offboarded (``tenantctl offboard``): its workloads go, its data stays declared.

        Components of a retired tenant declare exactly what keeps its data (namespace,
        buckets, keys, database secret and schema, with its login disabled) under the same
        names and parents, so the data stays managed (protected, retained) and nothing else
        runs or can reach it.
        """
        return not self.tenant.record.lifecycle.active

    @property
    def releasing_cluster(self) -> bool:
        """A dedicated tenant between its offboarding updates (``retiring``).

        Its own cluster loses its EKS deletion protection and its namespace its Pulumi
        protection, so that the next update (``offboarded``: a data-only stack) removes them.
        """
        return self.tenant.record.lifecycle.state is State.RETIRING

    @property
    def releasing_data(self) -> bool:
        """``offboard --destroy-data`` phase 1: the data is declared unprotected, to go next.

        Pulumi cannot delete a protected resource in the update that stops protecting it,
        so this update only lifts the protections (:meth:`data_options`, buckets'
        ``force_destroy``, RDS ``deletion_protection``); the next one deletes.
        """
        return self.tenant.record.lifecycle.releasing_data

    @property
    def data_destroyed(self) -> bool:
        """``offboard --destroy-data`` phase 2: nothing of the tenant is declared any more."""
        return self.tenant.record.lifecycle.data_destroyed

    @property
    def keeps_final_snapshot(self) -> bool:
        """Whether a destroyed database leaves its final snapshot (and the key it needs)."""
        return self.tenant.record.lifecycle.final_snapshot

    def data_options(self, parent: pulumi.Resource, extra: pulumi.ResourceOptions | None = None, *,
                     protect: bool = True) -> pulumi.ResourceOptions:
        """Options of a data-bearing resource: kept (protected, retained) unless being destroyed.

        ``protect=False``: retained only (configuration of a kept resource, such as a
        bucket's policy, which removing the tenant from the program must leave in place).
        """
        keep = not self.releasing_data
        opts = pulumi.ResourceOptions(parent=parent, protect=keep and protect, retain_on_delete=keep)
        return pulumi.ResourceOptions.merge(opts, extra)

    @property
    def names(self) -> TenantNames:
        """The tenant's physical names."""
        return self.tenant.names(self.environment)

    @property
    def labels(self) -> dict[str, str]:
        """Labels on every Kubernetes object the tenant owns (policies key on them)."""
        return {
            **self.tenant.record.labels,
            naming.LABEL_TENANT: self.id,
            naming.LABEL_TIER: self.tier.value,
            naming.LABEL_PLAN: self.tenant.plan.name,
            naming.LABEL_MANAGED_BY: naming.MANAGED_BY,
        }

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every AWS resource the tenant owns (policies and billing key on them)."""
        return {
            naming.LABEL_TENANT: self.id,
            naming.LABEL_TIER: self.tier.value,
            naming.LABEL_PLAN: self.tenant.plan.name,
            "environment": self.environment,
            "managed-by": naming.MANAGED_BY,
        }


@dataclass(frozen=True, kw_only=True)
class ClusterRef:
    """What tenant components need from the cluster they are deployed into."""

    name: pulumi.Input[str]
    #: The cluster's Kubernetes provider; None for a data-only stack (``serving`` false).
    provider: k8s.Provider | None
    oidc_provider_arn: pulumi.Input[str]
    #: Issuer host and path without ``https://``, as IRSA trust conditions use it.
    oidc_issuer: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: pulumi.Input[Sequence[str]]
    node_security_group_id: pulumi.Input[str]
    region: str
    account_id: pulumi.Input[str]
    partition: str = "aws"
    kubernetes_version: str = KUBERNETES_VERSION
    #: Whether tenants in this cluster may get dedicated node pools (``node`` tier).
    dedicated_pools: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Security groups of the region's deploy runner (``pulumi up``), which the cluster's
    #: private endpoints admit; empty when the runner works inside the VPC. In a cluster
    #: they resolve only once the transit gateway attachment exists, so a rule that
    #: references them depends on it (:class:`components.deploy_runner.RunnerPath`).
    runner_security_group_ids: Sequence[pulumi.Input[str]] = ()
    #: The runner's network path into the VPC (transit gateway attachment and routes):
    #: what connects from the runner during ``pulumi up`` (the database bootstrap) waits for it.
    runner_path: Sequence[pulumi.Resource] = ()
    #: False for an offboarded dedicated tenant's data-only stack: no EKS cluster, nodes,
    #: OIDC provider or Kubernetes API; only the VPC, keys and logs its data needs.
    serving: bool = True
