"""A cell planned in slices of its tenants: the same plan as planned whole, or a loud failure.

The hostile cases first: a slice whose shared part differs, lacks a resource or still holds
a stand-in after the merge, and one tenant's resource declared by two slices, must each
stop the plan; then byte-for-byte identity of sliced and whole plans of real cells.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from components.database import undeclared
from tenantctl import cell_slices, planner
from tenantctl.cell_slices import SliceMismatch, SlicePlan
from tenantctl.mock_engine import DuplicateResource
from tenants.loader import load_registry
from tenants.stacks import fleet_stacks
from tests.conftest import FIXTURE_FLEET

ROOT = Path(__file__).resolve().parents[2]


def _resource(urn: str, inputs: dict[str, Any], depends_on: list[str] | None = None,
              property_dependencies: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"urn": urn, "type": "aws:rds/proxy:Proxy", "name": urn.rsplit("::", 1)[-1], "parent": None,
            "custom": True, "inputs": inputs,
            "options": {"protect": False, "dependsOn": depends_on or [],
                        "propertyDependencies": property_dependencies or {}, "provider": None}}


def _spec(tenants: list[str]) -> Any:
    people = tuple(SimpleNamespace(id=t, hostname=f"{t}.example.com") for t in tenants)
    return SimpleNamespace(name="shared-x", kind="shared", tenants=people)


def _merge(parts: list[SlicePlan], tenants: list[str]) -> planner.StackPlan:
    return cell_slices.merge(_spec(tenants), parts, policies=False)


def _proxy(a: str, b: str, deps: list[str] | None = None) -> dict[str, Any]:
    return _resource("urn:proxy", {"auths": [{"secretArn": a}, {"secretArn": b}]},
                     property_dependencies={"auths": deps} if deps else None, depends_on=deps)


def test_a_shared_resource_that_differs_between_slices_stops_the_merge() -> None:
    shared = SlicePlan("shared-x", (), [_resource("urn:vpc", {"cidr": "10.0.0.0/16"})], [], 0)
    slice_a = SlicePlan("shared-x", ("a",), [_resource("urn:vpc", {"cidr": "10.1.0.0/16"})], [], 0)
    with pytest.raises(SliceMismatch, match=r"urn:vpc of the shared part differs at \.inputs\.cidr"):
        _merge([shared, slice_a], ["a"])


def test_a_slice_that_lacks_a_shared_resource_stops_the_merge() -> None:
    shared = SlicePlan("shared-x", (), [_resource("urn:vpc", {}), _resource("urn:db", {})], [], 0)
    slice_a = SlicePlan("shared-x", ("a",), [_resource("urn:vpc", {}), _resource("urn:a", {})], [], 0)
    with pytest.raises(SliceMismatch, match="lacks 1 resource"):
        _merge([shared, slice_a], ["a"])


def test_one_resource_declared_by_two_slices_is_a_duplicate_as_in_the_whole_program() -> None:
    shared = SlicePlan("shared-x", (), [], [], 0)
    slice_a = SlicePlan("shared-x", ("a",), [_resource("urn:same", {})], [], 0)
    slice_b = SlicePlan("shared-x", ("b",), [_resource("urn:same", {})], [], 0)
    with pytest.raises(DuplicateResource, match="urn:same is declared twice"):
        _merge([shared, slice_a, slice_b], ["a", "b"])


def test_stand_ins_are_filled_by_the_slice_that_declares_the_tenant_and_dependencies_joined() -> None:
    shared = SlicePlan("shared-x", (), [_proxy(undeclared("a"), undeclared("b"))], [], 0)
    slice_a = SlicePlan("shared-x", ("a",), [_proxy("arn:a", undeclared("b"), ["urn:a-secret"]),
                                             _resource("urn:a-secret", {})], [], 0)
    slice_b = SlicePlan("shared-x", ("b",), [_proxy(undeclared("a"), "arn:b", ["urn:b-secret"]),
                                             _resource("urn:b-secret", {})], [], 0)
    plan = _merge([shared, slice_a, slice_b], ["a", "b"])
    proxy = next(r for r in plan.resources if r["urn"] == "urn:proxy")
    assert proxy["inputs"] == {"auths": [{"secretArn": "arn:a"}, {"secretArn": "arn:b"}]}
    assert proxy["options"]["dependsOn"] == ["urn:a-secret", "urn:b-secret"]
    assert proxy["options"]["propertyDependencies"] == {"auths": ["urn:a-secret", "urn:b-secret"]}
    assert list(proxy["options"]) == list(shared.resources[0]["options"])  # same key order as whole
    assert [r["urn"] for r in plan.resources] == ["urn:a-secret", "urn:b-secret", "urn:proxy"]


def test_a_stand_in_left_unfilled_stops_the_merge() -> None:
    shared = SlicePlan("shared-x", (), [_proxy(undeclared("a"), undeclared("b"))], [], 0)
    slice_a = SlicePlan("shared-x", ("a",), [_proxy("arn:a", undeclared("b"))], [], 0)
    with pytest.raises(SliceMismatch, match=r"still holds \[declared in another slice: b\]"):
        _merge([shared, slice_a], ["a", "b"])


def test_a_slice_may_fill_only_its_own_tenants_stand_ins() -> None:
    shared = SlicePlan("shared-x", (), [_proxy(undeclared("a"), undeclared("b"))], [], 0)
    # Slice "a" answers for tenant b's entry: a value it cannot know.
    slice_a = SlicePlan("shared-x", ("a",), [_proxy("arn:a", "arn:b")], [], 0)
    with pytest.raises(SliceMismatch, match=r"differs at \.inputs\.auths\[1\]\.secretArn"):
        _merge([shared, slice_a], ["a", "b"])


def test_a_slice_may_not_leave_its_own_tenant_undeclared() -> None:
    shared = SlicePlan("shared-x", (), [_proxy(undeclared("a"), "arn:b")], [], 0)
    slice_a = SlicePlan("shared-x", ("a",), [_proxy(undeclared("a"), "arn:b")], [], 0)
    with pytest.raises(SliceMismatch, match=r"still holds \[declared in another slice: a\]"):
        _merge([shared, slice_a], ["a", "b"])


def test_each_violation_is_kept_once_from_the_slice_that_judged_its_resource() -> None:
    def found(urn: str, policy: str) -> dict[str, Any]:
        return {"policy": policy, "severity": "high", "enforcement": "mandatory", "urn": urn, "message": "m"}

    shared = SlicePlan("shared-x", (), [_resource("urn:vpc", {})], [found("urn:vpc", "P-1")], 0)
    slice_a = SlicePlan("shared-x", ("a",), [_resource("urn:vpc", {}), _resource("urn:a", {})],
                        [found("urn:vpc", "P-1"), found("urn:a", "P-2")], 0)
    slice_b = SlicePlan("shared-x", ("b",), [_resource("urn:vpc", {}), _resource("urn:b", {})],
                        [found("urn:vpc", "P-1"), found("urn:b", "P-3")], 0)
    plan = _merge([shared, slice_a, slice_b], ["a", "b"])
    assert [(v["urn"], v["policy"]) for v in plan.violations] == [
        ("urn:a", "P-2"), ("urn:b", "P-3"), ("urn:vpc", "P-1")]


def test_slices_cover_every_tenant_once_in_order_as_a_multiple_of_the_workers() -> None:
    spec = _spec([f"t{i:03d}" for i in range(101)])
    for workers, size in ((2, 40), (3, 40), (2, 10), (4, 25)):
        parts = cell_slices.slices(spec, workers, size)
        assert parts is not None and parts[0].tenants == ()
        tenant_slices = [p.tenants for p in parts[1:]]
        assert [t for s in tenant_slices for t in s] == [t.id for t in spec.tenants]
        assert len(tenant_slices) % workers == 0 and max(map(len, tenant_slices)) <= size
        assert max(map(len, tenant_slices)) - min(map(len, tenant_slices)) <= 1


def test_small_cells_dedicated_stacks_and_one_worker_are_planned_whole() -> None:
    assert cell_slices.slices(_spec(["a", "b"]), workers=2, size=2) is None
    assert cell_slices.slices(_spec(["a", "b", "c"]), workers=1, size=2) is None
    dedicated = SimpleNamespace(name="tenant-a", kind="dedicated", tenants=(SimpleNamespace(id="a"),))
    assert cell_slices.slices(dedicated, workers=2, size=0) is None


def test_planning_one_large_cell_uses_every_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "cpu_count", lambda: 4)
    monkeypatch.setattr(cell_slices, "SLICE_TENANTS", 10)
    assert planner.plan_workers([_spec([f"t{i}" for i in range(30)])]) == 4
    assert planner.plan_workers([_spec(["a", "b"])]) == 1


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _plan_both_ways(registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                    ) -> tuple[dict[str, bytes], dict[str, bytes], list[planner.StackPlan]]:
    specs = fleet_stacks(load_registry(registry))
    whole = planner.plan_stacks(specs, workers=1)
    monkeypatch.setattr(cell_slices, "SLICE_TENANTS", 1)  # every tenant its own slice
    merged: list[str] = []
    real_combine = cell_slices.combine

    def counting(spec: Any, parts: Any) -> cell_slices.Combined:
        merged.append(spec.name)
        return real_combine(spec, parts)

    monkeypatch.setattr(cell_slices, "combine", counting)
    sliced = planner.plan_stacks(specs, workers=2)
    # Each cell is merged once, as its last slice comes in (in whatever order they finish).
    assert sorted(merged) == sorted(s.name for s in specs if s.kind == "shared" and len(s.tenants) > 1)
    assert merged, "the fleet has no cell to slice: the test would compare nothing"
    planner.write_plan(whole, tmp_path / "whole")
    planner.write_plan(sliced, tmp_path / "sliced")
    return _files(tmp_path / "whole"), _files(tmp_path / "sliced"), sliced


def test_a_sliced_cell_plans_byte_for_byte_as_the_whole_cell(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    whole, sliced, plans = _plan_both_ways(FIXTURE_FLEET, tmp_path, monkeypatch)
    assert len(whole) > 50 and whole.keys() == sliced.keys()
    assert [p for p in whole if whole[p] != sliced[p]] == []
    cell = next(p for p in plans if p.kind == "shared")
    proxy = next(r for r in cell.resources if r["type"] == "aws:rds/proxy:Proxy")
    assert len(proxy["inputs"]["auths"]) == len(cell.tenants)  # every tenant's login, from its slice


def test_several_sliced_cells_merge_in_workers_byte_for_byte(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("plan_fleet", ROOT / "bench" / "plan_fleet.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["plan_fleet"] = bench
    spec.loader.exec_module(bench)
    registry = tmp_path / "registry"
    registry.mkdir()
    bench.generate(registry, 7, cells=2)  # two cells of three tenants, every shared tier
    whole, sliced, plans = _plan_both_ways(registry, tmp_path, monkeypatch)
    assert sum(p.kind == "shared" for p in plans) == 2
    assert [p for p in whole if whole[p] != sliced[p]] == []


def test_every_resource_meets_the_resource_rules_and_the_stack_rules_see_the_whole_cell(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from policy import engine

    cell = next(s for s in fleet_stacks(load_registry(FIXTURE_FLEET)) if s.kind == "shared")
    whole = {r["urn"] for r in planner.plan_stack(cell, policies=False).resources}
    judged: list[str] = []
    stack_judged: list[set[str]] = []
    real_resources, real_stack = engine.evaluate_resources, engine.evaluate_stack_rules

    def resources(found: list[dict], chosen: Any, **kwargs: Any) -> list[dict]:
        judged.extend(chosen)
        return real_resources(found, chosen, **kwargs)

    def stack(found: list[dict], **kwargs: Any) -> list[dict]:
        stack_judged.append({r["urn"] for r in found})
        return real_stack(found, **kwargs)

    monkeypatch.setattr(engine, "evaluate_resources", resources)
    monkeypatch.setattr(engine, "evaluate_stack_rules", stack)
    monkeypatch.setattr(cell_slices, "SLICE_TENANTS", 1)
    for part in cell_slices.slices(cell, workers=2) or []:  # in-process: the spies see each call
        cell_slices.plan_slice(part)
    assert set(judged) == whole
    parts = [cell_slices.plan_slice(p) for p in cell_slices.slices(cell, workers=2) or []]
    stack_judged.clear()
    cell_slices.merge(cell, parts)
    assert stack_judged == [whole]


def test_the_proxy_collector_stands_in_for_undeclared_tenants_only() -> None:
    from components.database import ProxyAuthCollector

    collector = ProxyAuthCollector(["a", "b"], declared={"a"})
    assert not collector.complete
    collector.add("a", "arn:a")
    assert collector.complete
    with pytest.raises(ValueError, match="twice"):
        collector.add("a", "arn:a")
    whole = ProxyAuthCollector(["a", "b"])
    whole.add("a", "arn:a")
    assert not whole.complete  # a real deployment waits for every tenant
