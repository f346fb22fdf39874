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
    provider: k8s.Provider
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
