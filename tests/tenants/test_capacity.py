"""Quota arithmetic for requests *and* limits, ephemeral storage, and the LimitRange's bounds.

Every platform container is counted as the API server admits it: what it declares, and the
LimitRange's defaults for what it leaves out (the mesh proxy's ephemeral storage).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenants import capacity
from tenants.models import TenantRecord
from tenants.plans import PlanSpec, load_plans
from tenants.quantity import parse_quantity

PLANS = load_plans()
MI = 2**20


def changed(plan: PlanSpec, section: str, **changes: object) -> PlanSpec:
    """A plan with some fields of one section replaced (validated like the table)."""
    data = plan.model_dump()
    data[section] = {**data[section], **changes}
    return PlanSpec.model_validate(data)


def record(tier: str = "namespace", plan: str = "standard", chatbot: bool = True) -> TenantRecord:
    return TenantRecord(id="acme", tier=tier, plan=plan, features={"chatbot": chatbot})


def problems(rec: TenantRecord, plan: PlanSpec) -> list[str]:
    return [message for _, _, message in capacity.check_fits(rec, plan)]


def test_admitted_fills_what_a_container_leaves_out_from_the_limit_range():
    plan = PLANS["standard"]
    lr = plan.limit_range
    bare = capacity.admitted({}, plan)
    assert bare["requests"] == lr.default_request.amounts() and bare["limits"] == lr.default.amounts()
    limit_only = capacity.admitted({"limits": {"cpu": "300m"}}, plan)
    assert limit_only["requests"]["cpu"] == Decimal("0.3")  # a limit without a request is the request
    proxy = capacity.admitted(capacity.MESH_SIDECAR_RESOURCES, plan)
    assert proxy["requests"]["ephemeral-storage"] == parse_quantity(lr.default_request.ephemeral_storage)
    assert proxy["limits"]["cpu"] == Decimal("0.5")


def test_limits_count_workloads_at_twice_their_requests_plus_proxies():
    plan = PLANS["standard"]
    need = capacity.requirements(record(), plan)
    pods = (4 + 1) + (3 + 1)  # file server and chatbot at max_replicas, each with a surge pod
    assert need["limits_cpu"] == Decimal("0.5") * pods + Decimal("0.5") * pods  # 2 x 250m, proxy 500m
    assert need["limits_memory"] == (1024 + 512) * MI * pods
    proxy_disk = parse_quantity(plan.limit_range.default.ephemeral_storage)
    assert need["limits_ephemeral_storage"] == 1024 * MI * pods + proxy_disk * pods


@pytest.mark.parametrize("field", ["limits_cpu", "limits_memory", "ephemeral_storage",
                                   "limits_ephemeral_storage"])
def test_a_quota_below_max_scale_limits_is_rejected(field):
    plan = PLANS["standard"]
    need = capacity.requirements(record("vcluster"), plan)
    # Just below what the tenant needs, keeping the requests <= limits rule of the table.
    low = int(need[field]) - 1
    quota = {field: str(low)}
    if field == "ephemeral_storage":
        quota["limits_ephemeral_storage"] = plan.quota.limits_ephemeral_storage
    tight = changed(plan, "quota", **quota)
    found = problems(record("vcluster"), tight)
    assert len(found) == 1 and f"quota {field} " in found[0] and "vCluster control plane" in found[0]


def test_proxy_disk_default_is_what_the_namespace_pays_for():
    plan = PLANS["standard"]
    bigger = changed(plan, "limit_range", default_request={
        "cpu": "100m", "memory": "128Mi", "ephemeral_storage": "128Mi"})
    pods = (4 + 1) + (3 + 1)
    delta = capacity.requirements(record(), bigger)["ephemeral_storage"] - \
        capacity.requirements(record(), plan)["ephemeral_storage"]
    assert delta == 64 * MI * pods  # one proxy per pod took the default


@pytest.mark.parametrize(("changes", "problem"), [
    ({"max": {"cpu": "2", "memory": "512Mi", "ephemeral_storage": "4Gi"},
      "default": {"cpu": "1", "memory": "512Mi", "ephemeral_storage": "512Mi"}},
     "fileserver/fileserver memory limit is above limit_range.max"),
    ({"pod_max": {"cpu": "3", "memory": "1Gi", "ephemeral_storage": "6Gi"},
      "max": {"cpu": "2", "memory": "1Gi", "ephemeral_storage": "4Gi"},
      "default": {"cpu": "1", "memory": "1Gi", "ephemeral_storage": "512Mi"}},
     "fileserver pod's memory limits are above limit_range.pod_max"),
    ({"min": {"cpu": "10m", "memory": "256Mi", "ephemeral_storage": "16Mi"},
      "default_request": {"cpu": "100m", "memory": "256Mi", "ephemeral_storage": "64Mi"}},
     "fileserver/istio-proxy requests less memory than limit_range.min"),
], ids=["container-max", "pod-max", "min-above-proxy"])
def test_a_limit_range_that_refuses_the_platforms_own_pods_is_rejected(changes, problem):
    plan = changed(PLANS["standard"], "limit_range", **changes)
    assert any(problem in p for p in problems(record(), plan)), problems(record(), plan)


def test_the_vcluster_volume_must_fit_the_claim_bounds():
    plan = changed(PLANS["standard"], "limit_range", pvc={"min": "1Gi", "max": "2Gi"})
    found = problems(record("vcluster"), plan)
    assert any("vCluster's 5Gi volume is outside limit_range.pvc" in p for p in found)
    assert problems(record("namespace"), plan) == []


@pytest.mark.parametrize("plan", sorted(PLANS))
@pytest.mark.parametrize("tier", ["namespace", "node", "vcluster", "cluster"])
def test_every_platform_container_fits_the_limit_range_of_every_plan(plan, tier):
    assert list(capacity.limit_range_problems(record(tier, plan), PLANS[plan])) == []
