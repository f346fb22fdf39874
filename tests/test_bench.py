"""The benchmark's generated fleet is a valid registry of the documented mix.

The benchmark itself is not a test; what it measures with is (the process-tree memory).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tenants.loader import load_registry
from tenants.stacks import fleet_stacks

BENCH = Path(__file__).resolve().parents[1] / "bench" / "plan_fleet.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plan_fleet", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["plan_fleet"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_generated_fleet_loads_and_spreads_over_every_tier(tmp_path: Path, bench: ModuleType) -> None:
    bench.generate(tmp_path, tenants=12, cells=1)
    registry = load_registry(tmp_path)
    assert len(registry.tenants) == 12
    assert {t.tier.value for t in registry.tenants} == {"namespace", "node", "vcluster", "cluster"}
    stacks = fleet_stacks(registry)
    clusters = sum(t.tier.value == "cluster" for t in registry.tenants)
    assert [s.kind for s in stacks].count("dedicated") == clusters >= 1
    assert all(s.deploy_runner is not None and set(s.images) == {"fileserver", "chatbot"} for s in stacks)


def test_mix_is_mostly_namespace(bench: ModuleType) -> None:
    share = {tier: bench.MIX.count(tier) / len(bench.MIX) for tier in set(bench.MIX)}
    assert share["namespace"] > 0.5
    assert set(share) == {"namespace", "node", "vcluster", "cluster"}


def test_default_cells_hold_every_shared_tenant_within_capacity(tmp_path: Path, bench: ModuleType) -> None:
    tenants = bench.CELL_TENANTS + 30  # more than one cell's worth
    bench.generate(tmp_path, tenants)
    registry = load_registry(tmp_path)
    shared = [s for s in fleet_stacks(registry) if s.kind == "shared"]
    assert len(shared) == 2
    assert all(0 < len(s.tenants) <= bench.CELL_TENANTS for s in shared)
    assert sum(len(s.tenants) for s in shared) == sum(t.tier.value != "cluster" for t in registry.tenants)


def test_tree_memory_counts_a_child(bench: ModuleType) -> None:
    measured = bench.measure([sys.executable, "-c",
                              "import subprocess, sys; subprocess.run([sys.executable, '-c', "
                              "'b = bytearray(200 * 2**20); import time; time.sleep(1)'])"])
    assert measured.peak_bytes > 200 * 2**20


def test_a_fleet_of_more_cells_than_the_sample_quotas_allow_is_valid(tmp_path: Path,
                                                                    bench: ModuleType) -> None:
    # The sample's platform account has quotas for ten VPCs; a generated fleet of thousands
    # of tenants has tens of cells in it, and records the quotas raised.
    bench.generate(tmp_path, tenants=12, cells=12)
    registry = load_registry(tmp_path)
    assert len([s for s in fleet_stacks(registry) if s.kind == "shared"]) == 12
    limits = registry.settings.account_quotas.limits_of(registry.settings.platform_account)
    assert limits.vpcs_per_region == 12 and limits.elastic_ips_per_region == 36
    assert limits.eks_clusters_per_region == 100  # never lowered below what AWS allows anyway
