"""Planning stacks in worker processes: the same plans as in-process, and failures that surface.

The failure cases come first: a worker that raises, one that dies, one whose exception does
not pickle. None may hang the caller or turn into a different error.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tenantctl import cell_slices, parallel, planner
from tenantctl.mock_outputs import UnmockedInvoke
from tests.conftest import FIXTURE_FLEET, run_cli


class Custom(Exception):
    """An exception of the caller's own type: it must come back as itself."""


def _raise_on_three(x: int) -> int:
    if x == 3:
        raise Custom(f"item {x}")
    return x * 10


def test_a_worker_exception_is_raised_as_itself() -> None:
    with pytest.raises(Custom, match="item 3"):
        parallel.run_each(_raise_on_three, [1, 2, 3, 4, 5], workers=2)


def test_a_worker_that_dies_is_reported_not_awaited() -> None:
    def die(x: int) -> int:
        if x == 2:
            os._exit(9)
        return x

    with pytest.raises(parallel.WorkerDied, match="exited with code 9"):
        parallel.run_each(die, [1, 2, 3], workers=2)


def test_an_exception_that_does_not_pickle_still_reports_what_it_was() -> None:
    class Local(Exception):  # a local class cannot be pickled
        pass

    def fail(_: int) -> int:
        raise Local("lock held")

    with pytest.raises(parallel.WorkerFailed, match="Local: lock held"):
        parallel.run_each(fail, [1, 2], workers=2)


def test_after_a_failure_no_worker_is_left_running() -> None:
    def slow_or_fail(x: int) -> int:
        if x == 0:
            raise Custom("first")
        threading.Event().wait(60)
        return x

    with pytest.raises(Custom):
        parallel.run_each(slow_or_fail, [1, 0, 2], workers=3, cost=lambda x: -x)
    import multiprocessing

    assert multiprocessing.active_children() == []


def test_results_keep_the_order_of_the_items_whatever_the_cost_order() -> None:
    seen: list[tuple[int, int]] = []
    results = parallel.run_each(lambda x: x * x, list(range(7)), workers=3, cost=lambda x: x % 3,
                                progress=lambda done, total, r: seen.append((done, total)))
    assert results == [x * x for x in range(7)]
    assert seen == [(i, 7) for i in range(1, 8)]


def _spec(name: str, tenants: int, kind: str = "shared") -> Any:
    return SimpleNamespace(name=name, kind=kind, tenants=tuple(range(tenants)))


def test_items_a_result_makes_possible_run_next_and_see_what_the_parent_stored() -> None:
    stored: dict[int, int] = {}
    finished: list[int] = []

    def more(result: int) -> list[int]:
        finished.append(result)
        if result >= 100:  # an item added below: nothing further
            return []
        stored[result] = result * 7  # forked after this: the added item reads it
        return [100 + result]

    def fn(x: int) -> int:
        return x if x < 100 else 1000 + stored[x - 100]

    results = parallel.run_each(fn, [1, 2, 3], workers=2, cost=lambda x: x, more=more)
    assert results[:3] == [1, 2, 3]
    assert sorted(results[3:]) == [1007, 1014, 1021] and len(results) == 6
    # One at a time the order is fixed: by cost (3, 2, 1), each follow-up ahead of the rest.
    finished.clear()
    stored.clear()
    results = parallel.run_each(fn, [1, 2, 3], workers=1, cost=lambda x: x, more=more)
    assert finished == [3, 1021, 2, 1014, 1, 1007]
    assert results == [1, 2, 3, 1021, 1014, 1007]


def test_an_added_item_that_fails_stops_the_run() -> None:
    with pytest.raises(Custom, match="item 3"):
        parallel.run_each(_raise_on_three, [1, 2], workers=2, more=lambda r: [3] if r == 10 else [])


def test_plan_stacks_in_workers_raises_a_stacks_error_as_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(spec: Any, *, policies: bool = True) -> planner.StackPlan:
        if spec.name == "bad":
            raise UnmockedInvoke("invoke 'x' has no mock")
        return planner.StackPlan(spec.name, spec.kind, [], [], [])

    monkeypatch.setattr(planner, "plan_stack", fake)
    monkeypatch.setattr(cell_slices, "SLICE_TENANTS", 10**6)  # whole stacks: plan_stack is faked
    specs = [_spec("a", 3), _spec("bad", 1), _spec("c", 2)]
    for workers in (1, 2):
        with pytest.raises(UnmockedInvoke, match="has no mock"):
            planner.plan_stacks(specs, policies=False, workers=workers)


def test_plan_stacks_in_workers_returns_the_stacks_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "plan_stack", lambda spec, *, policies=True: planner.StackPlan(
        spec.name, spec.kind, [str(os.getpid())], [], []))
    monkeypatch.setattr(cell_slices, "SLICE_TENANTS", 10**6)  # whole stacks: plan_stack is faked
    specs = [_spec("small", 1), _spec("big", 50), _spec("dedicated", 1, "dedicated")]
    plans = planner.plan_stacks(specs, policies=False, workers=2)
    assert [p.name for p in plans] == ["small", "big", "dedicated"]
    assert all(p.tenants != [str(os.getpid())] for p in plans)  # each planned in a worker


def test_planning_workers_run_without_the_collector_and_the_parent_keeps_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker exits after its one unit; the parent plans on (and merges) with its collector."""
    import gc

    monkeypatch.setattr(planner, "plan_stack", lambda spec, *, policies=True: planner.StackPlan(
        spec.name, spec.kind, [str(gc.isenabled())], [], []))
    monkeypatch.setattr(cell_slices, "SLICE_TENANTS", 10**6)
    plans = planner.plan_stacks([_spec("a", 1), _spec("b", 1)], policies=False, workers=2)
    assert [p.tenants for p in plans] == [["False"], ["False"]]
    assert gc.isenabled()


def test_a_manifest_collision_in_a_writing_worker_fails_as_in_process(tmp_path: Path) -> None:
    def config_map(urn: str) -> dict[str, Any]:
        return {"urn": urn, "type": "kubernetes:core/v1:ConfigMap", "name": "c", "options": {},
                "inputs": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "same"}}}

    plans = [planner.StackPlan("ok", "shared", [], [config_map("u1")], []),
             planner.StackPlan("clash", "shared", [], [config_map("u2"), config_map("u3")], [])]
    for workers in (1, 2):
        with pytest.raises(FileExistsError, match="two objects render to"):
            planner.write_plan(plans, tmp_path / str(workers), workers=workers)


def test_workers_must_be_a_positive_number(tmp_path: Path) -> None:
    for bad in ("0", "-1", "two"):
        result = run_cli("plan", "--registry", str(FIXTURE_FLEET), "--out", str(tmp_path), "--workers", bad)
        assert result.code == 2
        assert "--workers" in result.err and "Traceback" not in result.err
        assert not (tmp_path / "plan.json").exists()


def test_parallel_plan_is_the_serial_plan_byte_for_byte(tmp_path: Path) -> None:
    # Serial first: the workers then fork a process that has run a program (its event
    # loop's thread pool must not be inherited, or their registrations never complete).
    outputs = {}
    for workers in ("1", "2"):
        out = tmp_path / workers
        result = run_cli("plan", "--registry", str(FIXTURE_FLEET), "--out", str(out), "--workers", workers)
        assert result.code == 0, result.err
        outputs[workers] = out
    serial, parallel_ = outputs["1"], outputs["2"]
    assert (serial / "plan.json").read_bytes() == (parallel_ / "plan.json").read_bytes()
    files = sorted(p.relative_to(serial) for p in (serial / "manifests").rglob("*.yaml"))
    assert files
    assert files == sorted(p.relative_to(parallel_) for p in (parallel_ / "manifests").rglob("*.yaml"))
    assert all((serial / f).read_bytes() == (parallel_ / f).read_bytes() for f in files)
