"""Availability zones a cluster may span: pinned by zone ID, checked against what EKS supports.

Zone *names* (``us-east-1a``) are mapped to physical zones differently in every AWS
account; zone *IDs* (``use1-az1``) are the same everywhere. EKS refuses to create a
cluster whose subnets sit in certain zone IDs (``UnsupportedAvailabilityZoneException``;
the EKS user guide, "VPC and subnet requirements": use1-az3, usw1-az2, cac1-az3). So the
platform names its zones by ID:

- ``_platform.yaml`` ``availability_zones`` pins the three zone IDs of each region
  (validated here: the region's own IDs, distinct, none that EKS refuses);
- the cluster asks EC2 for exactly those IDs and uses the names this account gives them
  (:class:`components.cluster.TenantCluster`). A region without pinned zones gets the first
  three available zones whose IDs EKS supports, which is right on the first ``up`` but can
  move if a zone is impaired later: pin them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Zones every cluster spans (three private and three public subnets).
CLUSTER_ZONE_COUNT = 3
#: Zone IDs where EKS does not create clusters (EKS user guide, network requirements).
EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})
ZONE_ID_RE = re.compile(r"^([a-z]+[0-9]+)-az[0-9]+$")
_DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
               "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}


def zone_id_prefix(region: str) -> str:
    """The prefix of a region's zone IDs: ``ap-northeast-1`` -> ``apne1``, ``us-gov-west-1`` -> ``usgw1``."""
    parts = region.split("-")
    if len(parts) < 3 or not parts[-1].isdigit():
        raise ValueError(f"{region!r} is not an AWS region name")
    area, *middle, number = parts
    words = [("g" if w == "gov" else _DIRECTIONS.get(w)) for w in middle]
    if any(w is None for w in words):
        raise ValueError(f"{region!r} is not an AWS region name")
    return area + "".join(w for w in words if w) + number


def zone_problems(region: str, zone_ids: Sequence[str]) -> list[str]:
    """What is wrong with a region's pinned zone IDs (empty when they are usable)."""
    problems = []
    if len(zone_ids) != CLUSTER_ZONE_COUNT or len(set(zone_ids)) != len(zone_ids):
        problems.append(f"give exactly {CLUSTER_ZONE_COUNT} distinct zone IDs, got {list(zone_ids)}")
    try:
        prefix = zone_id_prefix(region)
    except ValueError as exc:
        return [*problems, str(exc)]
    for zone in zone_ids:
        match = ZONE_ID_RE.match(zone)
        if not match or match.group(1) != prefix:
            problems.append(f"{zone!r} is not a zone ID of {region} (they look like {prefix}-az1)")
        elif zone in EKS_UNSUPPORTED_ZONE_IDS:
            problems.append(f"EKS does not create clusters in {zone}: choose another zone of {region}")
    return problems
