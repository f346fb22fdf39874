"""The plan cache is never stale: each input of a stack's plan, changed alone, misses.

Keys are computed over a copy of the code and of the fixture fleet, so each input can be
changed in turn; the stack plans stored are stand-ins (the key, not the plan, is on
trial) except in the end-to-end test, which plans the fixture fleet for real twice and
proves the second run reused every stack without calling the planner.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from tenantctl import plan_cache, planner
from tenantctl.plan_cache import PlanCache
from tenants.loader import load_registry
from tenants.stacks import StackSpec, fleet_stacks
from tests.conftest import run_cli
from tests.tenantctl.fleet_repo import copy_fleet

ROOT = Path(__file__).resolve().parents[2]


def _stand_in(specs: Sequence[StackSpec]) -> list[planner.StackPlan]:
    return [planner.StackPlan(s.name, s.kind, [t.id for t in s.tenants],
                              [{"urn": f"urn:{s.name}", "type": "t", "inputs": {}}], [], 0.5, {})
            for s in specs]


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """A copy of the code (without the sample registry) and of the fixture fleet."""
    code = tmp_path / "code"
    ignore = shutil.ignore_patterns("__pycache__", "registry")
    for directory in plan_cache.CODE_DIRECTORIES:
        shutil.copytree(ROOT / directory, code / directory, ignore=ignore)
    for name in plan_cache.CODE_FILES:
        shutil.copy2(ROOT / name, code / name)
    return {"code": code, "registry": copy_fleet(tmp_path / "registry"), "cache": tmp_path / "cache"}


def _filled(world: dict[str, Path], environment: str = "prod", policies: bool = True) -> list[StackSpec]:
    """Plan (stand-ins) the fleet into the cache under the unchanged inputs; its specs."""
    registry = load_registry(world["registry"])
    specs = fleet_stacks(registry, environment)
    PlanCache(world["cache"], registry, policies=policies, root=world["code"]).plan(specs, _stand_in)
    return specs


def _misses(world: dict[str, Path], environment: str = "prod", policies: bool = True) -> set[str]:
    """The stacks the cache no longer has a plan for, with the inputs as they are now."""
    registry = load_registry(world["registry"])
    cache = PlanCache(world["cache"], registry, policies=policies, root=world["code"])
    return {s.name for s in fleet_stacks(registry, environment) if cache.get(s) is None}


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


EVERY = {"shared-f1", "tenant-delta"}
Change = Callable[[dict[str, Path]], None]
CHANGES: list[tuple[str, Change, set[str]]] = [
    ("tenant record field", lambda w: _append(w["registry"] / "alpha.yaml", "labels: {team: x}\n"),
     {"shared-f1"}),
    ("dedicated tenant's plan", lambda w: (w["registry"] / "delta.yaml").write_text(
        (w["registry"] / "delta.yaml").read_text().replace("plan: enterprise", "plan: standard")),
     {"tenant-delta"}),
    ("ledger entry", lambda w: (w["registry"] / "_allocations.yaml").write_text(
        (w["registry"] / "_allocations.yaml").read_text().replace("10.128.0.0/18", "10.128.64.0/18")),
     {"tenant-delta"}),
    ("platform file", lambda w: _append(w["registry"] / "_platform.yaml", "# reviewed\n"), EVERY),
    ("plans.yaml", lambda w: _append(w["code"] / "tenants" / "plans.yaml", "# reviewed\n"), EVERY),
    ("a component", lambda w: _append(w["code"] / "components" / "program.py", "# changed\n"), EVERY),
    ("a policy rule", lambda w: _append(w["code"] / "policy" / "rules" / "iso_net_01.py", "#\n"), EVERY),
    ("a data file of the pack", lambda w: _append(w["code"] / "policy" / "rbac_builtin.yaml", "#\n"), EVERY),
    ("the planner", lambda w: _append(w["code"] / "tenantctl" / "mock_outputs.py", "#\n"), EVERY),
    ("Pulumi.yaml", lambda w: _append(w["code"] / "Pulumi.yaml", "# x\n"), EVERY),
    ("a new code file", lambda w: (w["code"] / "components" / "extra.py").write_text("X = 1\n"), EVERY),
]


@pytest.mark.parametrize(("what", "change", "missed"), CHANGES, ids=[c[0] for c in CHANGES])
def test_each_input_changed_alone_misses_exactly_the_stacks_it_shapes(world, what, change, missed):
    _filled(world)
    assert _misses(world) == set()
    change(world)
    assert _misses(world) == missed, what


def test_a_dependency_version_misses_every_stack(world, monkeypatch):
    _filled(world)
    real = metadata.distributions

    class Bumped:
        def __init__(self, dist: Any) -> None:
            self.metadata, self.version = dist.metadata, dist.version
            if (dist.metadata["Name"] or "").lower().replace("_", "-") == "pulumi-aws":
                self.version += ".post1"

    monkeypatch.setattr(plan_cache.metadata, "distributions", lambda: [Bumped(d) for d in real()])
    versions = plan_cache.dependency_versions()
    assert any(v.startswith("pulumi-aws==") and v.endswith(".post1") for v in versions)
    assert _misses(world) == EVERY


def test_environment_policies_and_plan_version_each_miss(world, monkeypatch):
    _filled(world)
    assert _misses(world, environment="dev") == EVERY
    assert _misses(world, policies=False) == EVERY
    monkeypatch.setattr(planner, "PLAN_VERSION", planner.PLAN_VERSION + 1)
    assert _misses(world) == EVERY


def test_the_sample_registry_is_data_not_code(world):
    _filled(world)
    (world["code"] / "tenants" / "registry").mkdir()
    (world["code"] / "tenants" / "registry" / "someone.yaml").write_text("id: someone\n")
    assert _misses(world) == set()


def test_corrupt_or_foreign_entries_are_ignored_and_replanned(world):
    specs = _filled(world)
    registry = load_registry(world["registry"])
    cache = PlanCache(world["cache"], registry, policies=True, root=world["code"])
    cell, dedicated = (world["cache"] / f"{cache.key(s)}.json" for s in specs)
    cell.write_text('{"key": "trunc')  # a write cut short
    # Under delta's key, the right key inside, but a (partial) plan of another stack.
    dedicated.write_text(json.dumps({"key": cache.key(specs[1]), "plan": {"name": "shared-f1"}}))
    assert cache.get(specs[0]) is None and cache.get(specs[1]) is None
    planned: list[str] = []

    def plan_many(missing: Sequence[StackSpec]) -> list[planner.StackPlan]:
        planned.extend(s.name for s in missing)
        return _stand_in(missing)

    cache.plan(specs, plan_many)
    assert planned == ["shared-f1", "tenant-delta"]
    assert all(cache.get(s) is not None for s in specs)  # rewritten whole


def test_an_entry_of_another_key_is_not_believed(world):
    specs = _filled(world)
    registry = load_registry(world["registry"])
    cache = PlanCache(world["cache"], registry, policies=True, root=world["code"])
    old = world["cache"] / f"{cache.key(specs[0])}.json"
    _append(world["registry"] / "alpha.yaml", "labels: {team: x}\n")
    changed = PlanCache(world["cache"], load_registry(world["registry"]), policies=True, root=world["code"])
    spec = fleet_stacks(changed.registry)[0]
    shutil.copy(old, world["cache"] / f"{changed.key(spec)}.json")  # a stale plan under the new name
    assert changed.get(spec) is None


def test_a_failed_write_leaves_the_old_entry_and_no_temporary_file(world):
    specs = _filled(world)
    cache = PlanCache(world["cache"], load_registry(world["registry"]), policies=True, root=world["code"])
    before = {p.name: p.read_bytes() for p in world["cache"].iterdir()}
    broken = _stand_in(specs[:1])[0]
    broken.resources = [{"urn": "u", "type": "t", "inputs": {"x": object()}}]
    with pytest.raises(TypeError):
        cache.put(specs[0], broken)
    assert {p.name: p.read_bytes() for p in world["cache"].iterdir()} == before


def test_an_unchanged_fleet_replans_from_the_cache_without_the_planner(tmp_path, monkeypatch):
    """End to end, with the real planner and policy pack: the second run reuses every stack."""
    registry, cache = copy_fleet(tmp_path / "registry"), tmp_path / "cache"
    argv = ["plan", "--registry", str(registry), "--cache", str(cache)]
    started = time.perf_counter()
    first = run_cli(*argv, "--out", str(tmp_path / "one"))
    planned_in = time.perf_counter() - started
    assert first.code == 0, first.err[-2000:]
    assert "0 stack(s) reused, 2 planned" in first.err

    def no_planning(*_: Any, **__: Any) -> None:
        raise AssertionError("the planner ran although every stack was cached")

    monkeypatch.setattr(planner, "plan_stack", no_planning)
    started = time.perf_counter()
    second = run_cli(*argv, "--out", str(tmp_path / "two"))
    reused_in = time.perf_counter() - started
    assert second.code == 0, second.err[-2000:]
    assert "2 stack(s) reused, 0 planned" in second.err
    one, two = (json.loads((tmp_path / d / "plan.json").read_text()) for d in ("one", "two"))
    assert one == two
    assert sorted(p.name for p in (tmp_path / "one" / "manifests").rglob("*.yaml")) == \
        sorted(p.name for p in (tmp_path / "two" / "manifests").rglob("*.yaml"))
    assert reused_in < planned_in / 4, (planned_in, reused_in)
