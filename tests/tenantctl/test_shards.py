"""Shards: balanced, deterministic parts of a selection, merged into the same plan and verdict.

The fixture fleet is planned in two shards (with the policy pack and a base plan), the
parts merged, and the result compared with the whole plan; then the parts are tampered
with, one way at a time, and the merge must refuse them (exit 2) or fail the verdict (1).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tenantctl import shards
from tests.conftest import FIXTURE_FLEET, SamplePlan, run_cli


def test_assignment_is_balanced_complete_and_independent_of_order():
    weights = {f"shared-c{i:02d}": shards.CELL_WEIGHT + shards.SHARED_TENANT_WEIGHT * (10 + 7 * i)
               for i in range(12)} | {f"tenant-t{i:03d}": shards.DEDICATED_WEIGHT for i in range(40)}
    parts = shards.assign(weights, 5)
    assert sorted(n for p in parts for n in p) == sorted(weights)  # each stack exactly once
    loads = [sum(weights[n] for n in p) for p in parts]
    assert max(loads) - min(loads) <= max(weights.values())
    shuffled = dict(reversed(sorted(weights.items())))
    assert shards.assign(shuffled, 5) == parts


def test_shard_count_follows_the_weight_within_bounds():
    assert shards.shard_count({}) == 0
    assert shards.shard_count({"a": 10}) == 1
    assert shards.shard_count({"a": 10, "b": 10}, target=10) == 2
    assert shards.shard_count({f"s{i}": 10_000 for i in range(100)}) == shards.MAX_SHARDS


@pytest.mark.parametrize("value", ["0/2", "3/2", "1/0", "a/b", "1", "-1/2"])
def test_a_bad_shard_is_invalid_input(value):
    result = run_cli("plan", "--registry", str(FIXTURE_FLEET), "--shard", value)
    assert result.code == 2 and "Traceback" not in result.err


def test_the_matrix_lists_the_shards():
    result = run_cli("plan", "--registry", str(FIXTURE_FLEET), "--matrix", "--shards", "2")
    assert result.code == 0, result.err
    entries = json.loads(result.out)
    assert [e["shard"] for e in entries] == ["1/2", "2/2"]
    assert sum(e["stacks"] for e in entries) == 2


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory, fixture_fleet_plan: SamplePlan) -> dict[str, Any]:
    """Both shards of the fixture fleet, planned with the pack and diffed from the whole plan."""
    root = tmp_path_factory.mktemp("shards")
    base = fixture_fleet_plan.out / "plan.json"
    for k in (1, 2):
        result = run_cli("plan", "--registry", str(FIXTURE_FLEET), "--shard", f"{k}/2", "--base", str(base),
                         "--out", str(root / f"s{k}"))
        assert result.code == 0, result.err[-2000:]
    return {"root": root, "whole": fixture_fleet_plan.document}


def _copy(parts: dict[str, Any], tmp_path: Path) -> list[Path]:
    dirs = []
    for k in (1, 2):
        shutil.copytree(parts["root"] / f"s{k}", tmp_path / f"s{k}")
        dirs.append(tmp_path / f"s{k}")
    return dirs


def _merge(tmp_path: Path, *plans: Path, extra: tuple[str, ...] = ()) -> Any:
    return run_cli("merge-plans", "--registry", str(FIXTURE_FLEET), str(tmp_path / "merged"),
                   *map(str, plans), *extra)


def test_each_shard_plans_part_of_the_fleet(parts):
    held = [json.loads((parts["root"] / f"s{k}" / "shard.json").read_text())["head"] for k in (1, 2)]
    assert all(held) and sorted(held[0] + held[1]) == ["shared-f1", "tenant-delta"]


def test_merged_shards_equal_the_whole_plan_and_its_verdict(parts, tmp_path):
    result = _merge(tmp_path, *_copy(parts, tmp_path), extra=("--shards", "2", "--json"))
    assert result.code == 0, result.err
    merged = json.loads((tmp_path / "merged" / "plan.json").read_text())
    assert merged["version"] == parts["whole"]["version"]
    assert merged["stacks"] == parts["whole"]["stacks"]  # resources and violations, in order
    summary = json.loads(result.out)
    assert summary["mandatory"] == 0 and summary["diff"]["errors"] == []
    assert (tmp_path / "merged" / "manifests" / "tenant-delta").is_dir()


def test_merged_without_manifests_is_the_same_plan_json_and_leaves_no_old_manifests(parts, tmp_path):
    dirs = _copy(parts, tmp_path)
    full = _merge(tmp_path / "full", *dirs, extra=("--shards", "2", "--workers", "2"))
    stale = tmp_path / "bare" / "merged" / "manifests" / "shared-f1"
    stale.mkdir(parents=True)
    (stale / "old.yaml").write_text("kind: Namespace\n")
    bare = _merge(tmp_path / "bare", *dirs, extra=("--shards", "2", "--no-manifests"))
    assert full.code == bare.code == 0, full.err + bare.err
    assert (tmp_path / "full" / "merged" / "manifests" / "tenant-delta").is_dir()
    assert not (tmp_path / "bare" / "merged" / "manifests").exists()  # a stale one would mislead
    assert (tmp_path / "bare" / "merged" / "plan.json").read_bytes() == \
        (tmp_path / "full" / "merged" / "plan.json").read_bytes()


@pytest.mark.parametrize(("tamper", "message"), [
    ("missing", "expected exactly one of each"),
    ("twice", "expected exactly one of each"),
    ("overlap", "overlap"),
    ("build", "differ in build"),
    ("plan-version", "differ in planVersion"),
    ("selection", "differ in selection"),
    ("no-sidecar", "not a shard"),
    ("expected-3", "expected 3"),
])
def test_parts_that_are_not_one_plan_are_refused(parts, tmp_path, tamper, message):
    one, two = _copy(parts, tmp_path)
    given, extra = [one, two], ()

    def edit(directory: Path, **changes: Any) -> None:
        meta = json.loads((directory / "shard.json").read_text())
        (directory / "shard.json").write_text(json.dumps({**meta, **changes}))

    if tamper == "missing":
        given = [one]
    elif tamper == "twice":
        given = [one, one]
    elif tamper == "overlap":  # shard 2 also claims shard 1's stacks
        shutil.copy(one / "plan.json", two / "plan.json")
        edit(two, head=json.loads((one / "shard.json").read_text())["head"])
    elif tamper == "build":
        edit(two, build="0" * 64)
    elif tamper == "plan-version":
        edit(two, planVersion=1)
    elif tamper == "selection":
        edit(two, selection=["shared-f1"])
    elif tamper == "no-sidecar":
        (two / "shard.json").unlink()
    else:
        extra = ("--shards", "3")
    result = _merge(tmp_path, *given, extra=extra)
    assert result.code == 2, result.out[-1000:]
    assert message in result.err and len(result.err.strip().splitlines()) == 1


def test_a_stack_no_shard_planned_is_refused(parts, tmp_path):
    one, two = _copy(parts, tmp_path)
    meta = json.loads((two / "shard.json").read_text())
    (two / "shard.json").write_text(json.dumps({**meta, "head": [], "base": []}))
    (two / "plan.json").write_text(json.dumps({**json.loads((two / "plan.json").read_text()), "stacks": []}))
    result = _merge(tmp_path, one, two)
    assert result.code == 2 and "in no shard" in result.err


def test_a_violation_in_one_shard_fails_the_merged_verdict(parts, tmp_path):
    one, two = _copy(parts, tmp_path)
    document = json.loads((two / "plan.json").read_text())
    document["stacks"][0]["violations"].append({"policy": "ISO-NET-01", "severity": "high",
                                                "enforcement": "mandatory", "urn": None, "message": "x"})
    (two / "plan.json").write_text(json.dumps(document))
    result = _merge(tmp_path, one, two)
    assert result.code == 1
    assert "ISO-NET-01" in result.out


def test_no_shards_for_an_empty_selection_merge_to_nothing_to_gate(tmp_path):
    result = _merge(tmp_path, extra=("--shards", "0"))
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "merged" / "plan.json").read_text())["stacks"] == []


@pytest.mark.parametrize("argv", [["--matrix", "--shards", "0"], ["--matrix", "--shards", "-2"],
                                  ["--shards", "2"], ["--github-output"], ["--matrix", "--shard", "1/2"]])
def test_shard_options_out_of_place_are_invalid_input(argv):
    result = run_cli("plan", "--registry", str(FIXTURE_FLEET), *argv)
    assert result.code == 2 and "Traceback" not in result.err
