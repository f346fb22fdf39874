"""Account quotas: what a stack uses, added up per account and region, against the limits."""

from __future__ import annotations

from collections import Counter

import pytest

from tenants import accounts
from tenants.loader import load_registry
from tenants.quotas import (
    STACK_FOOTPRINT,
    AccountQuotas,
    PlannedStack,
    QuotaLimits,
    footprint,
    quota_problems,
)
from tenants.regions import CLUSTER_ZONE_COUNT

#: Plan resource type -> the quota it counts against (NAT gateways: per zone, see below).
COUNTED = {"aws:ec2/vpc:Vpc": "vpcs_per_region", "aws:ec2/eip:Eip": "elastic_ips_per_region",
           "aws:eks/cluster:Cluster": "eks_clusters_per_region",
           "aws:rds/instance:Instance": "rds_instances_per_region",
           "aws:rds/proxy:Proxy": "rds_proxies_per_region"}


def planned_use(resources) -> Counter[str]:
    """What a planned stack really declares, per quota."""
    use = Counter({quota: 0 for quota in STACK_FOOTPRINT})
    for r in resources:
        if r["type"] in COUNTED:
            use[COUNTED[r["type"]]] += 1
    nats = [r for r in resources if r["type"] == "aws:ec2/natGateway:NatGateway"]
    by_subnet = Counter(r["inputs"]["subnetId"] for r in nats)
    use["nat_gateways_per_zone"] = max(by_subnet.values(), default=0)
    return use


def test_the_footprint_is_what_every_sample_stack_declares(sample_plan):
    registry = load_registry()
    planned = {s.name: s for s in accounts.planned_stacks(registry.settings, registry.tenants)}
    assert sorted(planned) == sorted(s["name"] for s in sample_plan.document["stacks"])
    for stack in sample_plan.document["stacks"]:
        assert planned_use(stack["resources"]) == footprint(planned[stack["name"]]), stack["name"]


def test_a_cell_without_tenants_has_no_proxy_yet():
    assert footprint(PlannedStack("shared-empty", None, "ap-northeast-1", has_proxy=False))[
        "rds_proxies_per_region"] == 0


def stacks(n: int, account: str | None = "111111111111",
           region: str = "ap-northeast-1") -> list[PlannedStack]:
    return [PlannedStack(f"tenant-t{i}", account, region) for i in range(n)]


def test_two_stacks_in_one_account_and_region_exceed_the_default_elastic_ips():
    problems = quota_problems(stacks(2), AccountQuotas())
    assert [(field, value) for field, value, _ in problems] == [
        ("account_quotas.default.elastic_ips_per_region", f"{2 * CLUSTER_ZONE_COUNT} planned")]
    [(_, _, message)] = problems
    assert "\n" not in message and "account 111111111111 in ap-northeast-1" in message


def test_one_line_per_exceeded_quota_at_fleet_size():
    problems = quota_problems(stacks(21), AccountQuotas())
    assert sorted(field.rsplit(".", 1)[1] for field, _, _ in problems) == [
        "elastic_ips_per_region", "nat_gateways_per_zone", "rds_proxies_per_region", "vpcs_per_region"]


def test_stacks_in_their_own_accounts_or_regions_do_not_add_up():
    spread = [PlannedStack(f"tenant-t{i}", f"{100000000000 + i}", "ap-northeast-1") for i in range(30)]
    assert quota_problems(spread + stacks(1, region="us-east-1"), AccountQuotas()) == []


def test_an_accounts_recorded_quotas_replace_the_defaults():
    raised = AccountQuotas(accounts={"111111111111": QuotaLimits(elastic_ips_per_region=9,
                                                                 vpcs_per_region=10)})
    assert quota_problems(stacks(3), raised) == []
    [(field, _, _)] = quota_problems(stacks(4), raised)
    assert field == "account_quotas.accounts.111111111111.elastic_ips_per_region"


@pytest.mark.parametrize("quota", sorted(QuotaLimits.model_fields))
def test_every_quota_has_a_source_and_aws_default(quota):
    from tenants.quotas import SOURCES
    assert SOURCES[quota].startswith("https://docs.aws.amazon.com/")
    assert quota in STACK_FOOTPRINT


def test_an_offboarded_dedicated_stack_counts_only_what_it_still_declares():
    """Data only: its VPC and database instance; its data destroyed: nothing (the walk that
    offboarded a dedicated tenant in the sample registry found the old count of a whole stack)."""
    data = footprint(PlannedStack("tenant-gone", "111111111111", "ap-northeast-1", declares="data"))
    assert {q for q, n in data.items() if n} == {"vpcs_per_region", "rds_instances_per_region"}
    gone = footprint(PlannedStack("tenant-gone", None, "ap-northeast-1", declares="nothing"))
    assert not any(gone.values())
    released = footprint(PlannedStack("tenant-gone", None, "ap-northeast-1", declares="released"))
    assert released == footprint(PlannedStack("tenant-gone", None, "ap-northeast-1"))
