"""A fleet through the real program: every tenant fenced, every manifest valid.

The fixture fleet (every tier), so that changing tenants/registry/ never changes this test.
"""

from __future__ import annotations

from collections import Counter

import pytest

from components.program import build_stack
from tenantctl.mock_engine import run_program
from tenants.loader import load_registry
from tenants.naming import LABEL_FOR_TENANT
from tenants.stacks import fleet_stacks
from tests.components import manifest_checks
from tests.conftest import FIXTURE_FLEET

FLEET = load_registry(FIXTURE_FLEET)
STACKS = fleet_stacks(FLEET, environment="prod")


@pytest.fixture(scope="module")
def runs():
    return {spec.name: run_program(lambda spec=spec: build_stack(spec), stack=spec.name)
            for spec in STACKS}


def test_every_rendered_manifest_validates_strictly(runs):
    kinds = Counter()
    for run in runs.values():
        objects = manifest_checks.recorded_manifests(run)
        manifest_checks.validate_all(objects)
        # Count the tenants' own objects; the platform's (istio-system...) are not per tenant.
        kinds.update(o["kind"] for o in objects
                     if {"tenant", LABEL_FOR_TENANT} & set(o["metadata"].get("labels") or {}))
    tenants = len(FLEET.tenants)
    assert kinds["Namespace"] == kinds["ResourceQuota"] == kinds["LimitRange"] == tenants
    assert kinds["PeerAuthentication"] == kinds["EnvoyFilter"] == tenants
    assert kinds["AuthorizationPolicy"] == 2 * tenants and kinds["NetworkPolicy"] == 8 * tenants


@pytest.mark.parametrize("tenant", [t.id for t in FLEET.tenants])
def test_each_tenant_gets_the_parts_of_its_tier(runs, tenant):
    resolved = FLEET.tenant(tenant)
    [spec] = [s for s in STACKS if tenant in [t.id for t in s.tenants]]
    run = runs[spec.name]
    types = Counter(r.type for r in run.resources if r.name.startswith(f"{tenant}-") or r.name == tenant)
    assert types["tenant-platform:index:TenantNamespace"] == 1
    assert types["tenant-platform:index:TenantNodePool"] == (resolved.tier.value == "node")
    assert types["tenant-platform:index:TenantVCluster"] == (resolved.tier.value == "vcluster")
    assert types["tenant-platform:index:WorkloadIdentity"] == sum(
        [resolved.record.features.fileserver, resolved.record.features.chatbot])
    namespace = run.named(f"{tenant}-namespace").inputs["metadata"]
    assert namespace["name"] == f"tenant-{tenant}"
    assert namespace["labels"]["tier"] == resolved.tier.value
    assert namespace["labels"]["plan"] == resolved.plan.name


def test_no_two_tenants_share_a_physical_kubernetes_object(runs):
    for run in runs.values():
        keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
                for o in manifest_checks.recorded_manifests(run)]
        assert len(keys) == len(set(keys))
