"""tenantctl's commands and exit codes: the interface users and CI script against."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tenants.loader import DEFAULT_REGISTRY, load_registry
from tenants.stacks import fleet_stacks
from tests.conftest import FIXTURE_FLEET, run_cli

FIXTURES = Path(__file__).parents[1] / "tenants" / "fixtures"


def test_validate_accepts_the_sample_fleet():
    result = run_cli("validate", "--locked")
    registry = load_registry(DEFAULT_REGISTRY)
    assert result.code == 0
    assert result.out.startswith(f"registry OK: {len(registry.tenants)} tenants in "
                                 f"{len(fleet_stacks(registry))} stacks")
    assert "note:" not in result.out  # both of its regions have a deploy runner


def test_validate_notes_regions_without_a_deploy_runner(tmp_path):
    registry = tmp_path / "r"
    shutil.copytree(FIXTURES / "base", registry)
    result = run_cli("validate", "--registry", str(registry))
    assert result.code == 0
    assert result.out.splitlines()[1] == (
        "  note: no deploy runner for ap-northeast-1 (shared-c1, shared-nopools): `pulumi up` must run "
        "inside those VPCs (see deploy_runners in _platform.yaml)")


def test_validate_names_each_problem_and_exits_2(tmp_path):
    registry = tmp_path / "r"
    shutil.copytree(FIXTURES / "base", registry)
    shutil.copy(FIXTURES / "invalid" / "unknown-plan" / "planned.yaml", registry)
    (registry / "junk.yaml").write_bytes(b"\xff\xfe\x00garbage")
    result = run_cli("validate", "--registry", str(registry))
    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[0] == "junk.yaml: (file): file is not UTF-8 text (got byte 0)"
    assert lines[1].startswith("planned.yaml: plan: unknown plan; allowed plans are")
    assert "Traceback" not in result.err + result.out


def test_validate_locked_fails_on_unrecorded_placements(tmp_path):
    registry = tmp_path / "r"
    shutil.copytree(FIXTURES / "base", registry)
    assert run_cli("validate", "--registry", str(registry)).code == 0
    result = run_cli("validate", "--registry", str(registry), "--locked")
    assert result.code == 2 and "good: placement not recorded (cell=c1)" in result.err
    assert "registry OK" not in result.out


def test_allocate_write_records_placements_once(tmp_path):
    registry = tmp_path / "r"
    shutil.copytree(FIXTURES / "base", registry)
    assert run_cli("allocate", "--registry", str(registry)).out.endswith("(dry run: add --write to record)\n")
    assert run_cli("allocate", "--registry", str(registry), "--write").code == 0
    assert load_registry(registry).ledger.tenants["good"].cell == "c1"
    assert run_cli("validate", "--registry", str(registry), "--locked").code == 0
    assert run_cli("allocate", "--registry", str(registry)).out.startswith("nothing to record")


def test_stacks_json_lists_every_stack_and_tenant():
    result = run_cli("stacks", "--json", "--registry", str(FIXTURE_FLEET))
    rows = json.loads(result.out)
    assert [(r["name"], r["kind"], r["tenants"]) for r in rows] == [
        ("shared-f1", "shared", ["alpha", "anvil", "bravo", "charlie"]),
        ("tenant-delta", "dedicated", ["delta"])]


def test_stacks_of_the_sample_registry_hold_each_of_its_tenants_once():
    rows = json.loads(run_cli("stacks", "--json").out)
    assert sorted(t for r in rows for t in r["tenants"]) == sorted(
        t.id for t in load_registry(DEFAULT_REGISTRY).tenants)


@pytest.mark.parametrize(("argv", "message"), [
    (["plan", "--stack", "shared-atlantis"], "unknown stack(s) ['shared-atlantis']"),
    (["plan", "--tenant", "nobody"], "unknown tenant(s) ['nobody']"),
    (["stacks", "--bogus"], "unrecognized arguments"),
], ids=["unknown-stack", "unknown-tenant", "bad-flag"])
def test_bad_arguments_exit_2(argv, message, tmp_path):
    result = run_cli(*argv, *(["--out", str(tmp_path)] if argv[0] == "plan" else []))
    assert result.code == 2
    assert message in result.err


def test_plan_selects_stacks_by_tenant(tmp_path):
    result = run_cli("plan", "--registry", str(FIXTURE_FLEET), "--tenant", "delta", "--tenant", "alpha",
                     "--out", str(tmp_path))
    document = json.loads((tmp_path / "plan.json").read_text())
    assert [s["name"] for s in document["stacks"]] == ["shared-f1", "tenant-delta"]
    assert result.code == 0


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read plan"),
    ('{"version": 99, "stacks": []}', "plan version 99 is not supported"),
    ('{"version": 1, "stacks": [{"name": "x"}]}', "stacks[0] is malformed"),
    ('{"version": 1, "stacks": [{"name": "x", "kind": "shared", "resources": [1]}]}',
     "stacks[0] is malformed"),
    ('{"version": 2, "stacks": []}', "the plan has no stacks"),
    ('{"version": 2, "stacks": [{"name": "x", "kind": "shared", "resou', "cannot read plan"),
], ids=["not-json", "wrong-version", "missing-resources", "resource-not-object", "no-stacks", "truncated"])
def test_check_rejects_malformed_plans(tmp_path, content, message):
    path = tmp_path / "plan.json"
    path.write_text(content)
    result = run_cli("check", "--plan", str(path))
    assert result.code == 2 and message in result.err
