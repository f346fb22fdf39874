"""Running a migration: the exact Pulumi CLI calls of every step, their order, resumption
after a failure at every step, and the tenant's data kept on both sides.

Pulumi is reached through its own seam (an injected PulumiCommand, ``FakePulumi``); the
two database servers and the S3 buckets are fakes whose contents the tests compare (the
real copier between two real servers: test_migrate_pg.py).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from tenantctl import cli
from tenantctl import migrate_plan as mp
from tenantctl import migrate_steps as ms
from tenants import naming
from tenants.loader import load_registry
from tenants.migration import Target
from tenants.models import Tier
from tests.conftest import run_cli
from tests.tenantctl.fake_pulumi import FakePulumi
from tests.tenantctl.migrate_support import (
    CLUSTER_ACCOUNT,
    SOURCE_DSN,
    TARGET_DSN,
    FakeDatabases,
    FakeS3,
    calls_by_step,
    services,
    verbs,
    walk_registry,
)

SCHEMA = naming.db_schema_name("alpha")
ROWS = {"documents": [(1, "contract.pdf"), (2, "invoice.pdf"), (3, "memo.txt")],
        "chunks": [(1, "a"), (2, "b")]}
FILES = {"contract.pdf": b"%PDF-1", "invoice.pdf": b"%PDF-22", "memo.txt": b"hello", "q/x.bin": b"\x00" * 9}


@pytest.fixture
def registry(tmp_path) -> Path:
    return walk_registry(tmp_path / "registry")


@pytest.fixture
def data():
    databases = FakeDatabases(servers={SOURCE_DSN: {SCHEMA: {k: list(v) for k, v in ROWS.items()}}})
    s3 = FakeS3({naming.TenantNames("alpha", "prod").files_bucket: dict(FILES)})
    return databases, s3


def to_cluster(registry: Path) -> mp.Move:
    return mp.decide(load_registry(registry), "alpha", Target(Tier.CLUSTER, account=CLUSTER_ACCOUNT), "prod")


def run(registry: Path, tmp: Path, move: mp.Move, fake: FakePulumi, data, state: ms.State | None = None):
    state = state or ms.State(tmp / "state" / "alpha.json", move)
    failed = ms.run(state, services(registry, tmp / "work", fake, *data))
    return state, failed


def test_a_move_to_cluster_runs_its_steps_in_order_with_exactly_these_cli_calls(registry, tmp_path, data):
    fake = FakePulumi()
    move = to_cluster(registry)
    state, failed = run(registry, tmp_path, move, fake, data)
    assert failed is None
    steps = calls_by_step(fake)
    assert list(steps) == ["record", "target-up", "copy-data", "verify", "switch", "delegate",
                           "retire-source", "finish"]
    assert {step: verbs(calls) for step, calls in steps.items()} == {
        "record": [], "target-up": [("up", "shared-f1"), ("up", "tenant-alpha")], "copy-data": [],
        "verify": [], "switch": [("up", "tenant-alpha")], "delegate": [],
        "retire-source": [("up", "shared-f1")], "finish": []}
    # Each up selects its own stack, with the config of the registry as that step left it.
    # (target-up brings the source up first: the copier's grant, docs/migration.md.)
    ups = (("target-up", ["shared-f1", "tenant-alpha"]), ("switch", ["tenant-alpha"]),
           ("retire-source", ["shared-f1"]))
    for step, stacks in ups:
        selected = [c for c in steps[step] if c[:2] == ["stack", "select"]]
        assert [c[-1] for c in selected] == stacks
        config = next(c for c in steps[step] if c[:2] == ["config", "set-all"])
        assert f"tenant-platform:registry={registry.resolve()}" in config
    assert not [c for c in fake.calls if c[0] in ("destroy", "refresh")]
    assert all(state.status(s) == "done" for s in move.steps)


def test_the_data_is_copied_to_new_names_and_kept_at_the_source(registry, tmp_path, data):
    databases, s3 = data
    run(registry, tmp_path, to_cluster(registry), FakePulumi(), data)
    assert databases.calls == [(SOURCE_DSN, TARGET_DSN, SCHEMA, None)]
    assert databases.servers[TARGET_DSN][SCHEMA] == ROWS == databases.servers[SOURCE_DSN][SCHEMA]
    old, new = (naming.TenantNames("alpha", "prod", g).files_bucket for g in (1, 2))
    assert old != new and s3.buckets[new] == FILES == s3.buckets[old]
    record = load_registry(registry).tenant("alpha").record
    assert (record.tier, record.generation, record.account, record.migration) == (
        Tier.CLUSTER, 2, CLUSTER_ACCOUNT, None)
    assert [(p.tier, p.cell, p.generation) for p in record.kept] == [(Tier.NAMESPACE, "f1", 1)]


def _fail_once(step: str, monkeypatch, fake: FakePulumi, data) -> None:
    """Make ``step`` fail the first time, the way it fails for real where it can."""
    databases, _ = data
    if step in ("target-up", "switch", "retire-source"):
        stack = "shared-f1" if step == "retire-source" else "tenant-alpha"
        ups = {"n": 0}

        def fail(args: list[str]) -> str | None:
            if args[0] == "up" and args[args.index("--stack") + 1] == stack:
                ups["n"] += 1
                if ups["n"] == (1 if step == "target-up" else 2):  # target-up ups both stacks
                    return "error: update failed: AccessDenied"
            return None
        fake.fail = fail
    elif step == "verify":
        databases.drop_a_row = True  # the copy loses a row: verify must catch it
    else:
        real = ms.run_step

        def flaky(name, state, services):
            if name == step and not flaky.failed:  # type: ignore[attr-defined]
                flaky.failed = True  # type: ignore[attr-defined]
                raise ms.StepFailed(f"injected failure of {name}")
            return real(name, state, services)
        flaky.failed = False  # type: ignore[attr-defined]
        monkeypatch.setattr(ms, "run_step", flaky)


@pytest.mark.parametrize("step", mp.BETWEEN_STACKS)
def test_a_failure_at_any_step_stops_there_and_a_rerun_resumes_without_repeating_done_steps(
        registry, tmp_path, data, monkeypatch, step):
    fake = FakePulumi()
    move = to_cluster(registry)
    _fail_once(step, monkeypatch, fake, data)
    state, failed = run(registry, tmp_path, move, fake, data)
    assert failed == step
    on_disk = ms.State.load(state.path)
    index = move.steps.index(step)
    assert [on_disk.status(s) for s in move.steps] == (
        ["done"] * index + ["failed"] + ["pending"] * (len(move.steps) - index - 1))
    assert on_disk.steps[step]["error"]
    first = calls_by_step(fake)
    assert list(first) == list(move.steps[:index + 1])  # nothing after the failed step ran
    if step == "verify":
        on_disk.redo("copy-data")  # what the operator does once the copy is fixed
    fake.calls.clear()
    _, failed = run(registry, tmp_path, move, fake, data, state=ms.State.load(state.path))
    assert failed is None
    resumed = list(calls_by_step(fake))
    again = move.steps.index("copy-data") if step == "verify" else index
    assert resumed == list(move.steps[again:])
    databases, s3 = data
    assert databases.servers[TARGET_DSN][SCHEMA] == ROWS
    assert s3.buckets[naming.TenantNames("alpha", "prod", 2).files_bucket] == FILES
    record = load_registry(registry).tenant("alpha").record
    assert record.generation == 2 and record.migration is None and len(record.kept) == 1


def test_a_run_killed_inside_a_step_runs_that_step_again(registry, tmp_path, data, monkeypatch):
    fake = FakePulumi()
    move = to_cluster(registry)
    real = ms.run_step

    def crash(name, state, services):
        if name == "switch":
            raise KeyboardInterrupt
        return real(name, state, services)
    monkeypatch.setattr(ms, "run_step", crash)
    with pytest.raises(KeyboardInterrupt):
        run(registry, tmp_path, move, fake, data)
    state = ms.State.load(tmp_path / "state" / "alpha.json")
    assert state.status("switch") == "running" and state.status("verify") == "done"
    monkeypatch.setattr(ms, "run_step", real)
    _, failed = run(registry, tmp_path, move, fake, data, state=state)
    assert failed is None
    assert load_registry(registry).tenant("alpha").record.kept[0].cell == "f1"


def test_resources_handed_over_are_moved_by_pulumi_state_move_before_the_target_up(registry, tmp_path, data):
    fake = FakePulumi()
    urn = "urn:pulumi:shared-f1::tenant-platform::random:index/randomPassword:RandomPassword::alpha-x"
    move = dataclasses.replace(to_cluster(registry), handover=(urn,))
    run(registry, tmp_path, move, fake, data)
    target_up = calls_by_step(fake)["target-up"]
    assert verbs(target_up) == [("state move", "shared-f1", "tenant-alpha", urn), ("up", "shared-f1"),
                                ("up", "tenant-alpha")]
    move_call = next(c for c in target_up if c[:2] == ["state", "move"])
    assert move_call == ["state", "move", "--source", "shared-f1", "--dest", "tenant-alpha", "--yes", urn]


def test_a_move_inside_the_cell_is_one_up_of_the_cell_and_keeps_the_names(registry, tmp_path, data):
    fake = FakePulumi()
    move = mp.decide(load_registry(registry), "alpha", Target(Tier.NODE), "prod")
    assert move.steps == ("record", "up", "finish") and move.stacks == ("shared-f1",)
    state, failed = run(registry, tmp_path, move, fake, data)
    assert failed is None
    assert {s: verbs(c) for s, c in calls_by_step(fake).items()} == {
        "record": [], "up": [("up", "shared-f1")], "finish": []}
    record = load_registry(registry).tenant("alpha").record
    assert (record.tier, record.generation, record.migration, record.kept) == (Tier.NODE, 1, None, ())
    assert data[0].calls == []  # nothing to copy: the same bucket and schema


def test_two_runs_of_one_migration_never_overlap(registry, tmp_path):
    path = tmp_path / "alpha.json"
    with ms.holding(path), pytest.raises(ms.StateError, match="another tenantctl migrate is running"):
        with ms.holding(path):
            pass


def test_the_cli_resumes_from_its_state_file_and_reports_json(registry, tmp_path, data):
    databases, s3 = data
    source_ups = {"n": 0}

    def fail(a: list[str]) -> str | None:  # the source's second up (retire-source; target-up ups it first)
        if a[0] == "up" and "shared-f1" in a:
            source_ups["n"] += 1
            return "error: boom" if source_ups["n"] == 2 else None
        return None
    fake = FakePulumi(fail)
    argv = ["migrate", "alpha", "--to", "cluster", "--account", CLUSTER_ACCOUNT, "--registry", str(registry),
            "--apply", "--json", "--state", str(tmp_path / "m.json"), "--work-dir", str(tmp_path / "w"),
            "--source-dsn", SOURCE_DSN, "--target-dsn", TARGET_DSN, "--today", "2026-12-02"]

    def main(*extra: str) -> int:
        args = cli.build_parser().parse_args([*argv, *extra])
        args.pulumi_command, args.copy_schema, args.copy_objects = fake, databases.copy_schema, s3.copier
        args.verify_schema = databases.verify_schema
        return int(args.lifecycle(args, registry))
    assert main() == 4  # switched; waits for the host's delegation
    assert main("--delegated") == 3
    state = json.loads((tmp_path / "m.json").read_text())
    assert state["steps"]["delegate"]["status"] == "done"
    assert state["steps"]["retire-source"]["status"] == "failed"
    fake.fail = None
    assert main() == 0
    kept = yaml.safe_load((registry / "alpha.yaml").read_text())["kept"]
    assert kept == [{"tier": "namespace", "cell": "f1", "generation": 1, "since": "2026-12-02"}]
    assert main() == 0  # done: nothing runs again
    assert len(fake.ran("up")) == 5  # target-up's two, switch, the failed retire-source, its retry


def test_a_copier_that_raises_fails_its_step_with_the_error_and_no_traceback(registry, tmp_path, data):
    databases, _ = data
    databases.servers = {}  # the source server has no such schema: the copier raises KeyError
    state, failed = run(registry, tmp_path, to_cluster(registry), FakePulumi(), data)
    assert failed == "copy-data" and state.steps["copy-data"]["error"].startswith("KeyError")
    assert state.status("verify") == "pending"


def test_the_object_copier_compares_both_buckets_and_catches_a_missing_object():
    s3 = FakeS3({"src": dict(FILES)})
    report = s3.copier("src", "dst")
    assert report.ok and report.copied == len(FILES) and s3.buckets["dst"] == FILES
    assert (report.source_bytes, report.source_objects) == (sum(map(len, FILES.values())), len(FILES))

    class Lossy(FakeS3):
        def copy_object(self, Bucket, Key, **kwargs):  # noqa: N803 - boto3's spelling
            if Key != "memo.txt":
                super().copy_object(Bucket, Key, **kwargs)
    lossy = Lossy({"src": dict(FILES)})
    report = lossy.copier("src", "dst")
    assert not report.ok and report.target_objects == len(FILES) - 1
    found = ms.mismatches(report.as_json())  # what verify reports
    assert f"objects {len(FILES)} != {len(FILES) - 1}" in found and any("checksum" in m for m in found)


def test_a_finished_migration_is_archived_when_the_next_one_starts(registry, tmp_path, data):
    databases, s3 = data
    argv = ["--registry", str(registry), "--apply", "--state", str(tmp_path / "m.json"),
            "--work-dir", str(tmp_path / "w"), "--source-dsn", SOURCE_DSN, "--target-dsn", TARGET_DSN]

    def main(*extra: str) -> int:
        args = cli.build_parser().parse_args(["migrate", "alpha", *extra, *argv])
        args.pulumi_command = FakePulumi()
        args.copy_schema, args.copy_objects = databases.copy_schema, s3.copier
        args.verify_schema = databases.verify_schema
        return int(args.lifecycle(args, registry))
    assert main("--to", "vcluster") == 0
    assert main("--to", "vcluster") == 0  # the same request again: done, nothing runs or moves
    assert not (tmp_path / "m.done-1.json").exists()
    assert main("--to", "namespace") == 0
    assert json.loads((tmp_path / "m.done-1.json").read_text())["move"]["target"]["tier"] == "vcluster"
    assert json.loads((tmp_path / "m.json").read_text())["move"]["target"]["tier"] == "namespace"
    assert load_registry(registry).tenant("alpha").tier is Tier.NAMESPACE


def test_offboarding_a_migrated_tenant_retires_its_current_placement_not_a_kept_one(registry, tmp_path, data):
    run(registry, tmp_path, to_cluster(registry), FakePulumi(), data)
    result = run_cli("offboard", "alpha", "--registry", str(registry), "--today", "2026-12-03")
    assert "stack tenant-alpha:" in result.out and "stack shared-f1" not in result.out
    assert "data loss" not in result.out
    # The walk registry lists the host's zone in each account it is served from: the offboarded
    # stack's plan is policy-clean.
    assert result.code == 0 and "[mandatory]" not in result.out
