"""Subnet arithmetic of a cluster's VPC: pure functions, tested without an engine.

A VPC (a /16 to /20, from the registry for a dedicated tenant or the cell's settings) is
cut into three availability zones of one private and one public subnet each:

- the first three quarters of the VPC are the private subnets (``prefix + 2``), where
  nodes, pods (the VPC CNI gives every pod a VPC address, so these must be large), the
  control plane's network interfaces and databases live;
- the last quarter holds the public subnets (``prefix + 4``), which carry only the NAT
  gateways and internet-facing load balancers; one ``prefix + 4`` block stays free.

The layout is a function of the CIDR alone, so a tenant's subnets never move when the
program changes, and two VPCs whose CIDRs do not overlap cannot have overlapping subnets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from tenants.regions import CLUSTER_ZONE_COUNT

#: Availability zones every cluster spans (the registry validates pinned zones against it).
ZONE_COUNT = CLUSTER_ZONE_COUNT
MIN_PREFIX, MAX_PREFIX = 16, 20
#: Subnet tags the Kubernetes cloud provider reads to place load balancers.
ELB_ROLE_TAG = "kubernetes.io/role/elb"
INTERNAL_ELB_ROLE_TAG = "kubernetes.io/role/internal-elb"


@dataclass(frozen=True)
class ZoneSubnets:
    """The private and public subnet of one availability zone."""

    zone: str
    private: str
    public: str


def subnet_layout(vpc_cidr: str, zones: Sequence[str]) -> list[ZoneSubnets]:
    """The subnets of ``vpc_cidr`` over the first :data:`ZONE_COUNT` of ``zones``.

    Raises ValueError for a CIDR outside /16../20 or fewer than three zones: a cluster
    that cannot span three zones is refused rather than silently built smaller.
    """
    vpc = ipaddress.IPv4Network(vpc_cidr, strict=True)
    if not MIN_PREFIX <= vpc.prefixlen <= MAX_PREFIX:
        raise ValueError(f"VPC CIDR {vpc_cidr} must be a /{MIN_PREFIX} to /{MAX_PREFIX}")
    if len(zones) < ZONE_COUNT or len(set(zones)) != len(zones):
        raise ValueError(f"need {ZONE_COUNT} distinct availability zones, got {list(zones)}")
    quarters = list(vpc.subnets(new_prefix=vpc.prefixlen + 2))
    public = list(quarters[3].subnets(new_prefix=vpc.prefixlen + 4))
    return [ZoneSubnets(zone, str(quarters[i]), str(public[i]))
            for i, zone in enumerate(zones[:ZONE_COUNT])]


def private_cidrs(vpc_cidr: str) -> list[str]:
    """The private subnets' CIDRs of a VPC: where its databases (and nodes and pods) live.

    The same quarters :func:`subnet_layout` assigns, without needing the zones' names: a
    tenant's database egress is allowed to these, never to the whole VPC (the public
    quarter holds the NAT gateways and load balancers).
    """
    vpc = ipaddress.IPv4Network(vpc_cidr, strict=True)
    return [str(q) for q in list(vpc.subnets(new_prefix=vpc.prefixlen + 2))[:ZONE_COUNT]]


def subnet_tags(cluster_name: str, *, public: bool) -> dict[str, str]:
    """Tags that tell Kubernetes which subnets hold which load balancers of ``cluster_name``."""
    role = ELB_ROLE_TAG if public else INTERNAL_ELB_ROLE_TAG
    return {role: "1", f"kubernetes.io/cluster/{cluster_name}": "shared"}
