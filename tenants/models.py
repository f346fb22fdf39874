"""Pydantic models of the registry: one tenant file, the platform settings, the ledger.

Models validate one record at a time (types, formats, unknown fields). Checks that need
more than one record (duplicates, overlaps, capacity) live in :mod:`tenants.loader`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tenants import aws_limits, naming, regions
from tenants.lifecycle import DataDisposition, Lifecycle
from tenants.quotas import AccountId, AccountQuotas

REGION_RE = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"
HOSTNAME_RE = re.compile(
    r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_KEY_RE = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
#: Label keys the platform sets itself; a tenant file may not override them.
RESERVED_LABEL_KEYS = frozenset(
    {naming.LABEL_TENANT, naming.LABEL_TIER, naming.LABEL_PLAN, naming.LABEL_CELL,
     naming.LABEL_MANAGED_BY}
)


class Tier(StrEnum):
    """Isolation tier: where a tenant runs and what fences it."""

    NAMESPACE = "namespace"
    NODE = "node"
    VCLUSTER = "vcluster"
    CLUSTER = "cluster"

    @property
    def shared(self) -> bool:
        """True for tiers that live in a cell's shared host cluster."""
        return self is not Tier.CLUSTER


def _tenant_id(value: str) -> str:
    try:
        return naming.validate_tenant_id(value)
    except naming.NameError_ as exc:
        raise ValueError(str(exc)) from None


def _cell_name(value: str) -> str:
    if not naming.CELL_NAME_RE.match(value):
        raise ValueError(
            f"cell {value!r} must be 2-20 characters of lowercase letters, digits and '-', "
            "starting with a letter"
        )
    return value


def normalise_hostname(value: object) -> object:
    """The one spelling of a DNS name: lowercase, without the root's trailing dot.

    DNS compares names case-insensitively and ``files.acme.com.`` is ``files.acme.com``
    fully qualified, so two spellings of one name must compare equal: every cross-record
    check (host clashes, names inside other names) relies on this. Non-strings pass
    through to the type check.
    """
    if isinstance(value, str):
        value = value.lower()
        return value[:-1] if value.endswith(".") else value
    return value


def _hostname(value: str) -> str:
    if not HOSTNAME_RE.match(value):
        raise ValueError(f"host name {value!r} is not a DNS name such as files.acme.com "
                         "(dot-separated labels of letters, digits and '-'; no scheme, path, "
                         "port or wildcard)")
    return value


def _ipv4_network(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 network in CIDR form ({exc})") from None
    if not net.is_private:
        raise ValueError(f"{value!r} is not a private (RFC 1918) range")
    return str(net)


TenantId = Annotated[str, AfterValidator(_tenant_id)]
CellName = Annotated[str, AfterValidator(_cell_name)]
#: A DNS host name, normalised by :func:`normalise_hostname` before it is checked.
HostName = Annotated[str, BeforeValidator(normalise_hostname), AfterValidator(_hostname)]
Cidr = Annotated[str, AfterValidator(_ipv4_network)]
Region = Annotated[str, Field(pattern=REGION_RE)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Features(_Strict):
    """What the tenant runs. Both default on: the product is a file server with a chatbot."""

    fileserver: bool = True
    chatbot: bool = True

    @property
    def workloads(self) -> list[str]:
        """The workloads turned on, in the platform's order (``naming.WORKLOADS``)."""
        return [w for w in naming.WORKLOADS if getattr(self, w)]

    @model_validator(mode="after")
    def _chatbot_needs_files(self) -> Features:
        if self.chatbot and not self.fileserver:
            raise ValueError("chatbot answers over the tenant's files: it needs fileserver: true")
        return self


class Contact(_Strict):
    """A person to reach about the tenant."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    role: str | None = Field(default=None, max_length=100)


class Placement(_Strict):
    """Where a tenant's resources live: its tier, cell or account and VPC, naming generation.

    A migration (``tenantctl migrate``, :mod:`tenants.migration`) records the placement it
    leaves, and the tenant file keeps it (``kept``) after the move: the old stack still
    declares the tenant there, retired (data kept, nothing running), until its data is
    destroyed explicitly, so that no stack is orphaned and no kept data is forgotten.

    A kept placement's data is destroyed like an offboarded tenant's, in two recorded
    phases (``tenantctl offboard ID --destroy-data --kept STACK``): ``data: destroy``
    (declared without protection), then ``data: destroyed`` (nothing declared; the entry
    stays as the record, and the stack may hold the tenant again).
    """

    tier: Tier
    cell: CellName | None = None
    account: AccountId | None = None
    network_cidr: Cidr | None = None
    generation: int = Field(default=naming.FIRST_GENERATION, ge=naming.FIRST_GENERATION)
    #: When the move away from it finished (kept placements).
    since: dt.date | None = None
    #: A kept placement's data: kept, being destroyed (phase 1) or destroyed (phase 2).
    data: DataDisposition = DataDisposition.KEPT
    #: With ``data: destroy`` of a kept ``cluster`` placement: whether RDS takes its final snapshot.
    final_snapshot: bool = True
    destroyed_on: dt.date | None = None

    @property
    def holds_data(self) -> bool:
        """Whether its stack still declares something of it (its data is not destroyed)."""
        return self.data is not DataDisposition.DESTROYED

    @model_validator(mode="after")
    def _fields(self) -> Placement:
        if self.data is not DataDisposition.KEPT and self.since is None:
            raise ValueError(f"data: {self.data} is for a kept placement (one with `since`): a "
                             "migration's source is destroyed only after the move finished")
        if self.tier.shared and (self.cell is None or self.account or self.network_cidr):
            raise ValueError("a shared-tier placement names its cell (and no account or network_cidr)")
        own = self.account is not None and self.network_cidr is not None
        if not self.tier.shared and (self.cell is not None or not own):
            raise ValueError("a cluster-tier placement names its account and network_cidr (and no cell)")
        return self


class MigrationState(StrEnum):
    """How far a move between stacks has gone (what each stack declares follows from it)."""

    #: Both stacks declare the tenant; the source still serves its host.
    MOVING = "moving"
    #: The target serves the host; the source declares the tenant retired (data kept).
    SWITCHED = "switched"


class Migration(_Strict):
    """A move between stacks in progress: the placement it leaves and how far it went."""

    source: Placement
    state: MigrationState = MigrationState.MOVING
    #: The last step ``tenantctl migrate`` finished (for people; its state file decides).
    step: str | None = Field(default=None, max_length=40)


class TenantRecord(_Strict):
    """One tenant file in the registry (``tenants/registry/<id>.yaml``).

    Defaults: ``display_name`` = id; ``cell`` assigned automatically (shared tiers);
    ``region`` = the platform's default region; both features on; ``hostname`` =
    ``<id>.<platform domain>``; ``network_cidr`` allocated from the dedicated pool
    (``cluster`` tier only); no labels, no contacts. ``account`` (the 12-digit AWS account
    the tenant's stack deploys into) is required for the ``cluster`` tier, whose promise
    is account-level separation, and refused for the shared tiers (they run in their
    cell's account).
    """

    id: TenantId
    tier: Tier
    plan: str = Field(min_length=1)
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    cell: CellName | None = None
    region: Region | None = None
    features: Features = Features()
    hostname: HostName | None = None
    network_cidr: Cidr | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    contacts: tuple[Contact, ...] = ()
    #: Active unless ``tenantctl offboard`` recorded otherwise (:mod:`tenants.lifecycle`).
    lifecycle: Lifecycle = Lifecycle()
    #: The tenant's own AWS account (``cluster`` tier only; the registry loader requires
    #: it there, so that no registry deploys a dedicated tenant into a shared account).
    account: AccountId | None = None
    #: Naming generation of the current placement (:class:`tenants.naming.TenantNames`):
    #: raised by ``tenantctl migrate`` for a move to another stack, never by hand.
    generation: int = Field(default=naming.FIRST_GENERATION, ge=naming.FIRST_GENERATION)
    #: A move between stacks in progress (``tenantctl migrate``).
    migration: Migration | None = None
    #: Placements the tenant left, still declared retired by their stacks (data kept).
    kept: tuple[Placement, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _tier_fields(self) -> TenantRecord:
        if self.tier is Tier.CLUSTER and self.cell is not None:
            raise ValueError("cell: a cluster-tier tenant has its own cluster and no cell")
        if self.tier is not Tier.CLUSTER and self.account is not None:
            raise ValueError(f"account: only cluster-tier tenants have their own account (tier is "
                             f"{self.tier}; it runs in its cell's account)")
        if self.tier is not Tier.CLUSTER and self.network_cidr is not None:
            raise ValueError(
                f"network_cidr: only cluster-tier tenants have their own VPC (tier is {self.tier})"
            )
        if self.network_cidr is not None:
            prefix = ipaddress.IPv4Network(self.network_cidr).prefixlen
            if not 16 <= prefix <= 20:
                raise ValueError(
                    f"network_cidr: {self.network_cidr} must be a /16 to /20 "
                    "(three AZs of private and public subnets)"
                )
        for key, value in self.labels.items():
            if not LABEL_KEY_RE.match(key) or key in RESERVED_LABEL_KEYS:
                raise ValueError(f"labels: key {key!r} is not a valid, non-reserved label key")
            if len(value) > 63 or not LABEL_VALUE_RE.match(value):
                raise ValueError(f"labels: value {value!r} of {key!r} is not a valid label value")
        return self


def _cell_capacity(value: int) -> int:
    if value > aws_limits.MAX_CELL_CAPACITY:
        raise ValueError(
            f"a cell holds at most {aws_limits.MAX_CELL_CAPACITY} tenants: each tenant is one auth "
            f"secret of the cell's RDS Proxy, which takes at most {aws_limits.RDS_PROXY_MAX_SECRETS} "
            "(tenants/aws_limits.py)")
    return value


#: Tenants in one cell: at least 1, at most what one cell's shared resources can hold.
CellCapacity = Annotated[int, Field(ge=1), AfterValidator(_cell_capacity)]


class CellSpec(_Strict):
    """A cell: one shared host cluster with a bounded number of tenants."""

    name: CellName
    region: Region
    vpc_cidr: Cidr
    capacity: CellCapacity | None = None
    dedicated_pools: bool = True
    #: Cells not open for automatic placement still hold the tenants pinned to them.
    accepts_new_tenants: bool = True
    #: Public endpoint CIDRs of the host cluster's API (empty: private endpoint only).
    public_access_cidrs: tuple[Cidr, ...] = ()
    #: The AWS account of the cell's stack; default: the platform's ``platform_account``.
    account: AccountId | None = None


SecurityGroupId = Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$")]
ImageDigest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
HostedZoneId = Annotated[str, Field(pattern=r"^Z[A-Z0-9]{1,32}$")]
ZoneId = Annotated[str, Field(pattern=regions.ZONE_ID_RE.pattern)]
#: Where released images are published: ``<registry host>/<repository prefix>``.
ReleaseRepository = Annotated[str, Field(
    pattern=r"^[a-z0-9.-]+\.[a-z]{2,}(/[a-z0-9]+([._-][a-z0-9]+)*)+$", max_length=200)]


class HostedZone(_Strict):
    """A public Route 53 hosted zone that holds tenants' host names.

    external-dns manages exactly the zones of its cluster's tenants (by id), and a
    cluster's add-ons can only write records in a zone of their own account: a dedicated
    tenant's host needs a zone in the tenant's account (a subzone delegated from the
    parent zone by NS records; docs/cluster.md, DNS). ``zone_id``: the zone's id; without
    it external-dns selects the zone by its domain alone (a private or duplicate zone of
    the same name would match too). ``account``: the account holding the zone; default
    the platform account.
    """

    domain: HostName
    zone_id: HostedZoneId | None = None
    account: AccountId | None = None
TransitGatewayId = Annotated[str, Field(pattern=r"^tgw-[0-9a-f]{8}([0-9a-f]{9})?$")]


class DeployRunner(_Strict):
    """The private network path of the machine that runs ``pulumi up`` in one region.

    Clusters' API endpoints and databases are private, and ``pulumi up`` reaches both
    (Kubernetes objects through the EKS API; the in-database bootstrap straight to the
    RDS instance). The runner sits in a platform tooling VPC joined to every cell and
    dedicated VPC of the region by ``transit_gateway_id``: each VPC attaches to it and
    routes ``cidrs`` (the runner's subnets) there, and the EKS API and the database
    instances admit the runner's ``security_group_ids`` (referenced across the transit
    gateway, never as CIDRs: ISO-DATA-03). See docs/database.md.
    """

    transit_gateway_id: TransitGatewayId
    security_group_ids: tuple[SecurityGroupId, ...] = Field(max_length=5)
    cidrs: tuple[Cidr, ...] = Field(max_length=10)

    @model_validator(mode="after")
    def _not_empty(self) -> DeployRunner:
        # Here rather than min_length: pydantic would also call a list with one bad item empty.
        for field in ("security_group_ids", "cidrs"):
            if not getattr(self, field):
                raise ValueError(f"{field}: give at least one (the runner's path needs it)")
        return self


class PlatformSettings(_Strict):
    """Registry-wide settings (``_platform.yaml``). Every field has a safe default."""

    domain: HostName = "files.example.com"
    default_region: Region = "ap-northeast-1"
    cell_capacity: CellCapacity = 100
    #: Pool from which cluster-tier tenants without ``network_cidr`` get their VPC.
    dedicated_cidr_pool: Cidr = "10.128.0.0/9"
    dedicated_prefix: int = Field(default=18, ge=16, le=20)
    cells: tuple[CellSpec, ...] = ()
    #: Per region: where the deploy runner is (see :class:`DeployRunner`). A region
    #: without one gets no path in: ``pulumi up`` must then run inside each VPC.
    deploy_runners: dict[Region, DeployRunner] = Field(default_factory=dict)
    #: The released image of each workload, by digest (ISO-POD-13), written by the release
    #: pipeline: every tenant that runs the workload runs exactly this content.
    images: dict[naming.Workload, ImageDigest] = Field(default_factory=dict)
    #: Where the release pipeline publishes ``<release_repository>/<workload>@<digest>``;
    #: each stack copies the released image into the tenant's own repository before its
    #: Deployment (:mod:`components.release_image`).
    release_repository: ReleaseRepository = "public.ecr.aws/tenant-platform"
    #: The account of the cells' stacks (and of the platform's DNS zone); None: whatever
    #: account the deploy runner's own credentials are in (no role is assumed).
    platform_account: AccountId | None = None
    #: Per region, the three zone IDs every cluster there spans (:mod:`tenants.regions`).
    #: A region left out gets the first three available zones EKS supports.
    availability_zones: dict[Region, tuple[ZoneId, ...]] = Field(default_factory=dict)
    #: Quotas per account and region, the AWS defaults unless raised (:mod:`tenants.quotas`).
    account_quotas: AccountQuotas = AccountQuotas()
    #: Hosted zones of tenants' host names; the platform ``domain`` is a zone of the
    #: platform account (matched by name) unless listed here with its id.
    hosted_zones: tuple[HostedZone, ...] = ()

    @field_validator("availability_zones")
    @classmethod
    def _zones_usable(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        problems = [f"{region}: {problem}" for region, zone_ids in sorted(value.items())
                    for problem in regions.zone_problems(region, zone_ids)]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def account_of(self, cell: CellSpec) -> str | None:
        """The account of a cell's stack."""
        return cell.account or self.platform_account

    def zone_account(self, zone: HostedZone) -> str | None:
        """The account holding a listed zone (its own ``account``, else the platform's)."""
        return zone.account or self.platform_account

    def zone_of(self, hostname: str, account: str | None = None) -> HostedZone | None:
        """The hosted zone holding a host name: the longest ``hosted_zones`` domain it is in.

        ``account``: only the zones of that account count, the ones a stack deploying there
        can write (its add-ons' IAM reaches no other account's zones). A stack looks its
        hosts up in its own account, so that during a move between accounts each side finds
        its own zone for the host: the source the parent zone it always wrote, the target
        the zone made for the host in its account (docs/migration.md, DNS), although the
        longer of the two would win a lookup over every account.

        Without ``hosted_zones`` the zones are implied by name (no id, account unknown, so
        ``account`` is ignored): the platform ``domain`` for its hosts, else the host's
        parent domain (``files.acme.example`` -> ``acme.example``). With them, a host outside
        every listed zone (of ``account``) has none (the loader reports it).
        """
        # The domains the host is in: itself and what follows each of its dots (``a.b.c``:
        # ``a.b.c``, ``b.c``, ``c``); a set, because validating a fleet asks this of every
        # tenant against every listed zone.
        within = {hostname, *(hostname[i + 1:] for i, char in enumerate(hostname) if char == ".")}
        listed = sorted((z for z in self.hosted_zones if z.domain in within
                         and (account is None or self.zone_account(z) == account)),
                        key=lambda z: -len(z.domain))
        if listed:
            return listed[0]
        if self.hosted_zones:
            return None
        if self.domain in within:
            return HostedZone(domain=self.domain)
        parent = hostname.split(".", 1)[1]
        return HostedZone(domain=parent if "." in parent else hostname)

    def image_digests(self) -> dict[str, str]:
        """The released digests by workload name (what stacks and components take)."""
        return {str(workload): digest for workload, digest in self.images.items()}

    def capacity_of(self, cell: CellSpec) -> int:
        """Tenants a cell may hold: its own capacity, else the platform default."""
        return cell.capacity if cell.capacity is not None else self.cell_capacity


class Allocation(_Strict):
    """A recorded placement: the ledger entry that keeps a tenant's cell and CIDR stable."""

    cell: CellName | None = None
    network_cidr: Cidr | None = None


class Ledger(_Strict):
    """``_allocations.yaml``: placements already made, kept even after a tenant leaves.

    Recorded placements never move; an entry whose tenant left the registry keeps its
    CIDR reserved (its VPC and data are retained) until it is released explicitly.
    """

    tenants: dict[TenantId, Allocation] = Field(default_factory=dict)
