"""The benchmark's generated fleet is a valid registry (the bench itself is not a test)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tenants.loader import load_registry
from tenants.stacks import fleet_stacks

BENCH = Path(__file__).resolve().parents[1] / "bench" / "plan_fleet.py"


def test_generated_fleet_loads_and_spreads_over_every_tier(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("plan_fleet", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.generate(tmp_path, tenants=12, cells=1)
    registry = load_registry(tmp_path)
    assert len(registry.tenants) == 12
    assert {t.tier.value for t in registry.tenants} == {"namespace", "node", "vcluster", "cluster"}
    stacks = fleet_stacks(registry)
    assert [s.kind for s in stacks].count("dedicated") == 2
    assert all(s.deploy_runner is not None and set(s.images) == {"fileserver", "chatbot"} for s in stacks)
