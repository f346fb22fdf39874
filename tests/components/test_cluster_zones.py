"""A cluster's zones: the pinned zone IDs, named as this account names them; never one EKS refuses.

The mock answers ``getAvailabilityZones`` as EC2 does (names and zone IDs of the
provider's region, filtered), so these runs exercise the same lookup a real ``up`` makes.
"""

from __future__ import annotations

import ipaddress

import pytest

from components.cluster import TenantCluster, zone_names
from tenantctl import mock_outputs
from tenantctl.mock_engine import run_program
from tests.components.test_cluster import CASES, cluster_args

NAME = CASES["dedicated"]["name"]
SUBNET = "aws:ec2/subnet:Subnet"
AZ_INVOKE = "aws:index/getAvailabilityZones:getAvailabilityZones"


def private_zones(run):
    subnets = [r for r in run.of_type(SUBNET) if "-private-" in r.name]
    return [s.inputs["availabilityZone"] for s in sorted(subnets, key=lambda s: _net(s.inputs))]


def _net(inputs):
    return ipaddress.IPv4Network(inputs["cidrBlock"])


def run_cluster(region="ap-northeast-1", **overrides):
    args = cluster_args("dedicated", availability_zones=None, region=region, **overrides)
    return run_program(lambda: TenantCluster(NAME, args))


def test_pinned_zone_ids_become_this_accounts_zone_names_in_their_order():
    run = run_cluster(availability_zone_ids=["apne1-az1", "apne1-az2", "apne1-az4"])
    # The mock account names apne1-az1 "c", apne1-az2 "d", apne1-az4 "a".
    assert private_zones(run) == ["ap-northeast-1c", "ap-northeast-1d", "ap-northeast-1a"]
    [lookup] = [i for i in run.invokes if i.token == AZ_INVOKE]
    assert lookup.token == AZ_INVOKE  # one lookup (the stack's provider: test_stack_accounts)


def test_without_pinned_zones_a_zone_eks_refuses_is_never_chosen(monkeypatch):
    """Hostile case: the account lists use1-az3 (where EKS creates no cluster) first."""
    zones = [("us-east-1a", "use1-az3"), ("us-east-1b", "use1-az1"), ("us-east-1c", "use1-az2"),
             ("us-east-1d", "use1-az4")]
    monkeypatch.setitem(mock_outputs.ZONES, "us-east-1", zones)
    run = run_cluster("us-east-1")
    assert private_zones(run) == ["us-east-1b", "us-east-1c", "us-east-1d"]


def test_a_pinned_zone_the_account_does_not_have_fails_with_the_fix():
    with pytest.raises(ValueError, match=r"\['apne1-az9'\] are not offered to this account"):
        run_cluster(availability_zone_ids=["apne1-az1", "apne1-az2", "apne1-az9"])


def test_zone_names_keeps_the_pinned_order():
    assert zone_names(["z3", "z1"], ["a", "b", "c"], ["z1", "z2", "z3"]) == ["c", "a"]


def test_sample_stacks_span_their_regions_pinned_zones(sample_plan):
    """Every cluster of the sample fleet sits in the zones _platform.yaml pins for its region."""
    from tenants.loader import load_registry
    from tenants.stacks import fleet_stacks

    registry = load_registry()
    names = {region: {mock_outputs.ZONES[region][i][1]: mock_outputs.ZONES[region][i][0]
                      for i in range(len(mock_outputs.ZONES[region]))} for region in mock_outputs.ZONES}
    for spec in fleet_stacks(registry):
        [stack] = [s for s in sample_plan.document["stacks"] if s["name"] == spec.name]
        subnets = [r for r in stack["resources"] if r["type"] == SUBNET and "-private-" in r["name"]]
        got = [s["inputs"]["availabilityZone"] for s in sorted(subnets, key=lambda s: _net(s["inputs"]))]
        assert spec.zone_ids and got == [names[spec.region][z] for z in spec.zone_ids], spec.name
