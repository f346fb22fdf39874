"""AWS account quotas against what the fleet plans to build in each account and region.

Every stack (a cell or a dedicated tenant) builds the same network and control plane: a
VPC with one NAT gateway and Elastic IP per zone, an EKS cluster, an RDS instance and an
RDS Proxy (a cell without tenants has no proxy yet). AWS's default quotas are small (five
VPCs and five Elastic IPs per region): with three Elastic IPs per stack, the second stack
in an account and region already exceeds them. ``tenantctl validate`` adds up the planned
use per account and region and compares it with ``_platform.yaml`` ``account_quotas``
(the AWS defaults unless an account's raised quotas are declared), one problem per
exceeded quota, before anything is deployed.

:data:`STACK_FOOTPRINT` is checked against the resources a planned stack really declares
(tests/tenants/test_quotas.py), so the count cannot drift from the components.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tenants import aws_limits
from tenants.lifecycle import DedicatedStack
from tenants.regions import CLUSTER_ZONE_COUNT

AccountId = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
Limit = Annotated[int, Field(ge=0)]

#: Where each default comes from (docs/cluster.md repeats the table for operators).
SOURCES = {
    "vpcs_per_region": "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html",
    "elastic_ips_per_region": "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html",
    "nat_gateways_per_zone": "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html",
    "eks_clusters_per_region": "https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html",
    "rds_instances_per_region": "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html",
    "rds_proxies_per_region": "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html",
}


class QuotaLimits(BaseModel):
    """One account's quotas in each region it uses; every default is AWS's own default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vpcs_per_region: Limit = 5
    elastic_ips_per_region: Limit = 5
    nat_gateways_per_zone: Limit = 5
    eks_clusters_per_region: Limit = 100
    rds_instances_per_region: Limit = 40
    rds_proxies_per_region: Limit = aws_limits.RDS_PROXIES_PER_ACCOUNT_REGION


class AccountQuotas(BaseModel):
    """``_platform.yaml`` ``account_quotas``: the defaults, and accounts with raised quotas.

    An account listed under ``accounts`` states its quotas (fields it leaves out are the
    AWS defaults); every other account has ``default``. Raise a quota with AWS first
    (Service Quotas), then record it here.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: QuotaLimits = QuotaLimits()
    accounts: dict[AccountId, QuotaLimits] = Field(default_factory=dict)

    def limits_of(self, account: str | None) -> QuotaLimits:
        """The quotas of one account (None: the platform's own account, unnamed)."""
        return self.accounts.get(account or "", self.default)


#: What one stack uses of each quota (a NAT gateway and its Elastic IP in each zone).
STACK_FOOTPRINT: dict[str, int] = {
    "vpcs_per_region": 1,
    "elastic_ips_per_region": CLUSTER_ZONE_COUNT,
    "nat_gateways_per_zone": 1,
    "eks_clusters_per_region": 1,
    "rds_instances_per_region": 1,
    "rds_proxies_per_region": 1,
}


@dataclass(frozen=True)
class PlannedStack:
    """One stack as far as quotas care: where it is and whether its database has a proxy."""

    name: str
    account: str | None
    region: str
    has_proxy: bool = True
    #: An offboarded dedicated tenant's stack keeps only its data (``data``: the VPC and
    #: the database instance) or, its data destroyed, declares ``nothing``.
    declares: DedicatedStack = "serving"


#: What a data-only stack still uses: its VPC and its database instance.
DATA_ONLY_QUOTAS = ("vpcs_per_region", "rds_instances_per_region")


def footprint(stack: PlannedStack) -> Counter[str]:
    """The quota use of one stack."""
    use = Counter(STACK_FOOTPRINT)
    if not stack.has_proxy:
        use["rds_proxies_per_region"] = 0
    if stack.declares in ("data", "nothing"):
        for quota in use:
            if stack.declares == "nothing" or quota not in DATA_ONLY_QUOTAS:
                use[quota] = 0
    return use


def account_label(account: str | None) -> str:
    """How problems name an account."""
    return f"account {account}" if account else "the platform account"


def quota_problems(stacks: Iterable[PlannedStack], quotas: AccountQuotas) -> list[tuple[str, str, str]]:
    """(field, value, message) for every quota a group of stacks in one account and region exceeds."""
    groups: dict[tuple[str, str], list[PlannedStack]] = {}
    for stack in stacks:
        groups.setdefault((stack.account or "", stack.region), []).append(stack)
    problems = []
    for (account, region), members in sorted(groups.items()):
        use: Counter[str] = Counter()
        for stack in members:
            use.update(footprint(stack))
        limits = quotas.limits_of(account or None)
        for quota, used in sorted(use.items()):
            limit = getattr(limits, quota)
            if used > limit:
                names = ", ".join(sorted(s.name for s in members))
                where = (f"account_quotas.accounts.{account}.{quota}" if account in quotas.accounts
                         else f"account_quotas.default.{quota}")
                problems.append((where, f"{used} planned",
                                 f"{account_label(account or None)} in {region} would use {used} of its "
                                 f"{limit} ({quota}; stacks: {names}): raise the quota with AWS and record "
                                 "it under account_quotas.accounts, or move dedicated tenants to their own "
                                 "accounts"))
    return problems
