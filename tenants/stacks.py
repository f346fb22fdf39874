"""The stack model: which Pulumi stack builds which tenants.

- ``shared-<cell>``: a cell's host cluster and its shared-tier tenants;
- ``tenant-<id>``: one ``cluster``-tier tenant on its own VPC and cluster.

Every tenant lands in exactly one stack, except while a migration moves it and after:
then each placement it is leaving or left (:mod:`tenants.placements`) is declared by its
own stack too. A stack's identity comes from its config (role,
cell or tenant, environment), so the same function serves ``__main__.py``, the offline
planner and the Automation API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tenants import naming, placements
from tenants.loader import Registry, ResolvedTenant
from tenants.models import CellSpec, DeployRunner, HostedZone, PlatformSettings, Tier

StackKind = Literal["shared", "dedicated"]


class StackConfigError(ValueError):
    """The stack's config does not name a stack the registry knows."""


@dataclass(frozen=True)
class StackConfig:
    """What a Pulumi stack's config says about which stack it is."""

    role: StackKind
    environment: str = "prod"
    cell: str | None = None
    tenant: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ("shared", "dedicated"):
            raise StackConfigError(f"tenant-platform:role must be shared or dedicated, not {self.role!r}")
        if self.role == "shared" and not self.cell:
            raise StackConfigError("a shared stack needs tenant-platform:cell")
        if self.role == "dedicated" and not self.tenant:
            raise StackConfigError("a dedicated stack needs tenant-platform:tenant")
        if not naming.ENVIRONMENT_RE.match(self.environment):
            raise StackConfigError(f"tenant-platform:environment {self.environment!r} is not valid")

    @property
    def stack_name(self) -> str:
        """The canonical stack name (``shared-<cell>`` or ``tenant-<id>``)."""
        if self.role == "shared":
            return naming.shared_stack_name(self.cell or "")
        return naming.dedicated_stack_name(self.tenant or "")


@dataclass(frozen=True)
class StackSpec:
    """One stack with everything needed to build it."""

    name: str
    kind: StackKind
    environment: str
    region: str
    tenants: tuple[ResolvedTenant, ...]
    cell: CellSpec | None = None
    #: The region's deploy runner (``_platform.yaml`` ``deploy_runners``), if any.
    deploy_runner: DeployRunner | None = None
    #: Released image digests by workload (``_platform.yaml`` ``images``).
    images: Mapping[str, str] = field(default_factory=dict)
    #: The AWS account the stack deploys into (None: the deploy runner's own account).
    account: str | None = None
    #: The zone IDs its cluster spans (``availability_zones``; empty: chosen at deploy).
    zone_ids: tuple[str, ...] = ()
    #: The hosted zones of its tenants' host names, sorted by domain (``hosted_zones``).
    dns_zones: tuple[HostedZone, ...] = ()
    #: Where released images are published (``release_repository``).
    release_repository: str = "public.ecr.aws/tenant-platform"

    @property
    def config(self) -> StackConfig:
        """The stack config that selects this stack."""
        if self.kind == "shared":
            assert self.cell is not None
            return StackConfig("shared", self.environment, cell=self.cell.name)
        return StackConfig("dedicated", self.environment, tenant=self.tenants[0].id)

    def pulumi_config(self) -> dict[str, str]:
        """The stack's config as ``pulumi config set-all`` takes it."""
        cfg = {"aws:region": self.region, "tenant-platform:role": self.kind,
               "tenant-platform:environment": self.environment}
        if self.cell is not None:
            cfg["tenant-platform:cell"] = self.cell.name
        else:
            cfg["tenant-platform:tenant"] = self.tenants[0].id
        return cfg


def _spec(name: str, kind: StackKind, environment: str, region: str, tenants: tuple[ResolvedTenant, ...],
          cell: CellSpec | None, settings: PlatformSettings, account: str | None) -> StackSpec:
    """A stack with what it takes from the platform settings besides its tenants."""
    # Each tenant's zone in the stack's own account: the zone its add-ons can write.
    zones = {z.domain: z for t in tenants if (z := settings.zone_of(t.hostname, account)) is not None}
    return StackSpec(name, kind, environment, region, tenants, cell,
                     deploy_runner=settings.deploy_runners.get(region), images=settings.image_digests(),
                     account=account, zone_ids=settings.availability_zones.get(region, ()),
                     dns_zones=tuple(zones[d] for d in sorted(zones)),
                     release_repository=settings.release_repository)


def stack_for(config: StackConfig, registry: Registry,
              views: Sequence[ResolvedTenant] | None = None) -> StackSpec:
    """The stack a config selects, with its tenants, or :class:`StackConfigError`.

    ``views``: :func:`all_views` of the registry, when the caller has it already (a cell's
    members are found among every tenant's placements; computing those once per cell made
    listing a fleet's stacks grow with cells times tenants).
    """
    if config.role == "shared":
        cells = {c.name: c for c in registry.settings.cells}
        if config.cell not in cells:
            raise StackConfigError(f"unknown cell {config.cell!r}; cells are {sorted(cells)}")
        cell = cells[config.cell]
        members = tuple(v for v in (all_views(registry) if views is None else views)
                        if v.tier.shared and v.cell == cell.name)
        settings = registry.settings
        return _spec(naming.shared_stack_name(cell.name), "shared", config.environment, cell.region,
                     members, cell, settings, settings.account_of(cell))
    try:
        tenant = registry.tenant(config.tenant or "")
    except KeyError:
        raise StackConfigError(f"no tenant {config.tenant!r} in the registry") from None
    # The tenant's own stack: its current placement, or one it is leaving or left.
    tenant = next((v for v in placements.views(tenant, registry.settings) if v.tier is Tier.CLUSTER), tenant)
    if tenant.tier is not Tier.CLUSTER:
        raise StackConfigError(
            f"tenant {tenant.id!r} is {tenant.tier}-tier; it is built by stack "
            f"{naming.shared_stack_name(tenant.cell or '?')}, not a dedicated stack")
    return _spec(naming.dedicated_stack_name(tenant.id), "dedicated", config.environment, tenant.region,
                 (tenant,), None, registry.settings, tenant.account)


def fleet_stacks(registry: Registry, environment: str = "prod") -> list[StackSpec]:
    """Every stack of the fleet: one per cell (even empty), one per dedicated tenant."""
    views = all_views(registry)
    stacks = [stack_for(StackConfig("shared", environment, cell=c.name), registry, views)
              for c in registry.settings.cells]
    dedicated = sorted({v.id for v in views if v.tier is Tier.CLUSTER})
    stacks += [stack_for(StackConfig("dedicated", environment, tenant=t), registry) for t in dedicated]
    return sorted(stacks, key=lambda s: s.name)


def all_views(registry: Registry) -> list[ResolvedTenant]:
    """Every placement of every tenant a stack declares (:mod:`tenants.placements`), by id."""
    return [v for t in registry.tenants for v in placements.views(t, registry.settings)]
