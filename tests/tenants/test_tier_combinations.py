"""Tier and plan combinations that cannot work are rejected at validation, with the reason."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tenants import capacity
from tenants.loader import load_registry
from tenants.models import TenantRecord
from tenants.plans import PLANS_FILE, load_plans, parse_plans
from tenants.problems import RegistryInvalid
from tenants.quantity import parse_quantity
from tests.factories import TEST_IMAGES

PLATFORM = {"domain": "files.test.example", "images": dict(TEST_IMAGES),
            # Two cells in one account and region need more than the default 5 Elastic IPs.
            "account_quotas": {"default": {"elastic_ips_per_region": 10}}, "cells": [
    {"name": "pools", "region": "ap-northeast-1", "vpc_cidr": "10.0.0.0/16"},
    {"name": "nopools", "region": "ap-northeast-1", "vpc_cidr": "10.1.0.0/16", "dedicated_pools": False},
]}


def plans_with(**changes: dict) -> dict:
    """The shipped plan table plus a plan ``tight`` = standard with ``changes`` applied."""
    raw = yaml.safe_load(PLANS_FILE.read_text())
    tight = copy.deepcopy(raw["standard"])
    for section, values in changes.items():
        tight[section].update(values)
    return parse_plans({**raw, "tight": tight})


def registry(tmp_path: Path, *tenants: dict, platform: dict | None = None) -> Path:
    directory = tmp_path / "registry"
    directory.mkdir(parents=True)
    (directory / "_platform.yaml").write_text(yaml.safe_dump(platform or PLATFORM))
    for tenant in tenants:
        (directory / f"{tenant['id']}.yaml").write_text(yaml.safe_dump(tenant))
    return directory


def problems(directory: Path, plans=None) -> list[str]:
    with pytest.raises(RegistryInvalid) as caught:
        load_registry(directory, plans=plans)
    return [str(p) for p in caught.value.problems]


def test_the_sample_fleet_uses_every_tier_and_its_combinations_are_valid():
    fleet = load_registry()
    assert {t.tier.value for t in fleet.tenants} == {"namespace", "node", "vcluster", "cluster"}
    for tenant in fleet.tenants:
        assert list(capacity.check_fits(tenant.record, tenant.plan)) == [], tenant.id


def test_node_tier_in_a_cell_without_dedicated_pools_is_rejected(tmp_path):
    found = problems(registry(tmp_path, {"id": "orbit", "tier": "node", "plan": "standard",
                                         "cell": "nopools"}))
    assert found == ["orbit.yaml: tier: cell 'nopools' does not allow dedicated node pools (got 'node')"]


def test_node_tier_is_never_auto_placed_in_a_cell_without_pools(tmp_path):
    platform = {"cells": [PLATFORM["cells"][1]], "images": dict(TEST_IMAGES)}
    found = problems(registry(tmp_path, {"id": "orbit", "tier": "node", "plan": "standard"},
                              platform=platform))
    assert len(found) == 1
    assert "no cell in ap-northeast-1 has room for 'orbit' with dedicated node pools" in found[0]


def test_node_tier_is_auto_placed_in_a_cell_with_pools(tmp_path):
    fleet = load_registry(registry(tmp_path, {"id": "orbit", "tier": "node", "plan": "standard"}))
    assert fleet.tenant("orbit").cell == "pools"


def test_a_plan_below_its_workloads_requests_is_rejected_naming_plan_and_resource(tmp_path):
    plans = plans_with(quota={"cpu": "1"})
    found = problems(registry(tmp_path, {"id": "acme", "tier": "namespace", "plan": "tight"}), plans)
    assert found == [
        "acme.yaml: plan: quota cpu 1 of plan 'tight' is below the 3.15 the tenant requests at maximum "
        "scale, plus rollout surge (its workloads, one mesh proxy per pod): choose a larger plan or "
        "turn a feature off (got 'tight')"]


def test_mesh_proxies_count_against_the_quota(tmp_path):
    # standard at max scale with surge: workloads request 2.25 CPU; nine pods add 0.9 of proxies.
    plans = plans_with(quota={"cpu": "2250m"})
    found = problems(registry(tmp_path, {"id": "acme", "tier": "namespace", "plan": "tight"}), plans)
    assert len(found) == 1 and "below the 3.15 the tenant requests" in found[0]


@pytest.mark.parametrize(("quota", "without_surge", "with_surge"), [
    ({"cpu": "3"}, Decimal("2.45"), "quota cpu 3 of plan 'tight' is below the 3.15"),
    ({"memory": "5Gi"}, Decimal(7 * 640 * 2**20), "quota memory 5120Mi of plan 'tight' is below the 5760Mi"),
    ({"pods": 8}, Decimal(7), "quota pods 8 of plan 'tight' is below the 9"),
], ids=["cpu", "memory", "pods"])
def test_a_quota_that_fits_max_scale_but_not_a_rollout_is_rejected(tmp_path, quota, without_surge,
                                                                    with_surge):
    # standard: file server 4 + chatbot 3 replicas at 250m/512Mi, each with a 100m/128Mi proxy;
    # a rollout adds one more pod per workload.
    (value,) = quota.values()
    assert without_surge <= parse_quantity(str(value))  # it holds every workload at max_replicas
    found = problems(registry(tmp_path, {"id": "acme", "tier": "namespace", "plan": "tight"}),
                     plans_with(quota=quota))
    assert len(found) == 1 and with_surge in found[0] and "plus rollout surge" in found[0]


def test_vcluster_control_plane_pushes_a_plan_over_that_fits_the_namespace_tier(tmp_path):
    plans = plans_with(quota={"cpu": "3500m"})
    ok = load_registry(registry(tmp_path, {"id": "acme", "tier": "namespace", "plan": "tight"}), plans)
    assert ok.tenant("acme").plan.name == "tight"
    found = problems(registry(tmp_path / "v", {"id": "kaze", "tier": "vcluster", "plan": "tight"}), plans)
    assert found == [
        "kaze.yaml: plan: quota cpu 3.5 of plan 'tight' is below the 3.57 the tenant requests at maximum "
        "scale, plus rollout surge (its workloads, one mesh proxy per pod and the vCluster control "
        "plane): choose a larger plan or turn a feature off (got 'tight')"]


# Each quota holds the namespace tier (9 pods, 5760Mi, no volume) but not the vCluster's additions.
@pytest.mark.parametrize(("quota", "resource"), [
    ({"pvcs": 0}, "quota pvcs 0"),
    ({"storage": "4Gi"}, "quota storage 4096Mi"),
    ({"pods": 10}, "quota pods 10"),
    ({"memory": "6Gi"}, "quota memory 6144Mi"),
], ids=["no-pvc-for-control-plane", "volume-too-big", "pods", "memory"])
def test_vcluster_overhead_is_checked_for_every_quota_resource(tmp_path, quota, resource):
    found = problems(registry(tmp_path, {"id": "kaze", "tier": "vcluster", "plan": "tight"}),
                     plans_with(quota=quota))
    assert len(found) == 1 and resource in found[0] and "vCluster control plane" in found[0]


def test_requirements_add_up_workloads_surge_proxies_and_vcluster():
    plan = load_plans()["standard"]
    record = TenantRecord(id="kaze", tier="vcluster", plan="standard")
    need = capacity.requirements(record, plan)
    pods = (4 + 1) + (3 + 1) + 2  # file server, chatbot (each + a surge pod), vCluster's two pods
    assert need["pods"] == pods and need["pvcs"] == 1
    assert need["cpu"] == Decimal("0.25") * 9 + Decimal("0.22") + Decimal("0.1") * pods
    assert need["storage"] == 5 * 2**30


def test_requirements_of_enterprise_at_max_scale_during_a_rollout():
    # Worked by hand from plans.yaml: file server 8 + 1 surge pods and chatbot 4 + 1, all at
    # 1 CPU / 2Gi / 1Gi disk (limits twice that), each with a 100m / 128Mi mesh proxy limited
    # to 500m / 512Mi, its disk the LimitRange default (64Mi request, 1Gi limit).
    record = TenantRecord(id="acme", tier="namespace", plan="enterprise")
    mi = 2**20
    assert capacity.requirements(record, load_plans()["enterprise"]) == {
        "cpu": Decimal("15.4"),                        # 14 x 1 + 14 x 0.1
        "memory": Decimal(30464 * mi),                 # 14 x 2048Mi + 14 x 128Mi
        "ephemeral_storage": Decimal(15232 * mi),      # 14 x 1024Mi + 14 x 64Mi
        "limits_cpu": Decimal(35),                     # 14 x 2 + 14 x 0.5
        "limits_memory": Decimal(64512 * mi),          # 14 x 4096Mi + 14 x 512Mi
        "limits_ephemeral_storage": Decimal(43008 * mi),  # 14 x 2048Mi + 14 x 1024Mi
        "pods": Decimal(14), "pvcs": Decimal(0), "storage": Decimal(0)}


def test_a_tenant_without_chatbot_needs_less():
    plan = load_plans()["starter"]
    both = capacity.requirements(TenantRecord(id="acme", tier="namespace", plan="starter"), plan)
    files_only = capacity.requirements(TenantRecord(
        id="acme", tier="namespace", plan="starter", features={"chatbot": False}), plan)
    assert files_only["pods"] == both["pods"] - 2  # its one replica and its surge pod
    assert files_only["cpu"] == both["cpu"] - Decimal("0.4")


@pytest.mark.parametrize("plan", ["starter", "standard", "enterprise"])
@pytest.mark.parametrize("tier", ["namespace", "node", "vcluster", "cluster"])
@pytest.mark.parametrize("chatbot", [True, False], ids=["both-features", "fileserver-only"])
def test_every_shipped_plan_fits_every_tier_during_a_rollout(plan, tier, chatbot):
    record = TenantRecord(id="acme", tier=tier, plan=plan, features={"chatbot": chatbot})
    assert list(capacity.check_fits(record, load_plans()[plan])) == []
