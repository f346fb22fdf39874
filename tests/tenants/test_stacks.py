"""The stack model: every tenant in exactly one stack; configs select the right stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenants.loader import load_registry
from tenants.stacks import StackConfig, StackConfigError, fleet_stacks, stack_for
from tests.tenants.test_loader import registry_with

ROLLOUT = Path(__file__).resolve().parents[1] / "fixtures" / "rollout"
FLEET = ROLLOUT.with_name("fleet")


@pytest.fixture(scope="module")
def registry():
    """The rollout fixture registry: a dev cell, two cells, two dedicated tenants."""
    return load_registry(ROLLOUT)


def test_one_stack_per_cell_and_per_dedicated_tenant(registry):
    names = [s.name for s in fleet_stacks(registry)]
    assert names == ["shared-dev", "shared-r1", "shared-r2", "tenant-silo", "tenant-solo"]


def test_the_sample_registry_has_one_stack_per_cell_and_per_dedicated_tenant():
    sample = load_registry()
    names = [s.name for s in fleet_stacks(sample)]
    assert sorted(names) == sorted([f"shared-{c.name}" for c in sample.settings.cells] + [
        f"tenant-{t.id}" for t in sample.tenants if t.tier.value == "cluster"])


def test_listing_the_fleet_reads_every_tenants_placements_once(registry, monkeypatch):
    # Once per cell made listing 5,000 tenants' stacks take seconds (cells x tenants).
    from tenants import placements
    calls = []
    real = placements.views
    monkeypatch.setattr(placements, "views", lambda t, s: calls.append(t.id) or real(t, s))
    stacks = fleet_stacks(registry)
    dedicated = [s for s in stacks if s.kind == "dedicated"]
    assert len(calls) == len(registry.tenants) + len(dedicated)  # and each dedicated one's own


def test_every_tenant_is_in_exactly_one_stack(registry):
    held = [t.id for s in fleet_stacks(registry) for t in s.tenants]
    assert sorted(held) == sorted(t.id for t in registry.tenants)


def test_dedicated_stacks_hold_only_their_tenant(registry):
    for spec in fleet_stacks(registry):
        if spec.kind == "dedicated":
            assert [t.tier.value for t in spec.tenants] == ["cluster"]
        else:
            assert all(t.tier.shared and t.cell == spec.cell.name for t in spec.tenants)


def test_dev_config_selects_the_dev_cell(registry):
    spec = stack_for(StackConfig("shared", "dev", cell="dev"), registry)
    assert [t.id for t in spec.tenants] == ["devtest"]
    assert spec.pulumi_config() == {"aws:region": "ap-northeast-1", "tenant-platform:role": "shared",
                                    "tenant-platform:environment": "dev", "tenant-platform:cell": "dev"}


@pytest.mark.parametrize(("config", "message"), [
    (dict(role="shared", cell="atlantis"), "unknown cell 'atlantis'"),
    (dict(role="dedicated", tenant="nobody"), "no tenant 'nobody'"),
    (dict(role="dedicated", tenant="rone"), "built by stack shared-r1"),
], ids=["unknown-cell", "unknown-tenant", "shared-tenant-as-dedicated"])
def test_rejects_configs_that_name_no_stack(registry, config, message):
    with pytest.raises(StackConfigError, match=message):
        stack_for(StackConfig(**config), registry)


@pytest.mark.parametrize("config", [dict(role="shared"), dict(role="dedicated"), dict(role="both", cell="x"),
                                    dict(role="shared", cell="x", environment="PROD")],
                         ids=["shared-without-cell", "dedicated-without-tenant", "bad-role", "bad-env"])
def test_rejects_incomplete_configs(config):
    with pytest.raises(StackConfigError):
        StackConfig(**config)


def test_each_stack_carries_its_regions_deploy_runner():
    registry = load_registry(FLEET)
    runners = registry.settings.deploy_runners
    assert set(runners) == {"ap-northeast-1"}
    for spec in fleet_stacks(registry):
        assert spec.deploy_runner == runners[spec.region], spec.name


def test_a_region_without_a_runner_gives_its_stacks_none(tmp_path):
    registry = load_registry(registry_with(tmp_path))
    assert registry.settings.deploy_runners == {}
    assert all(spec.deploy_runner is None for spec in fleet_stacks(registry))
