"""Change selection: a pull request plans the stacks its change can touch, and only those.

On the fixture fleet (cell f1: alpha, anvil, bravo, charlie; dedicated delta), with the
base and head registries loaded side by side, and end to end through ``tenantctl plan
--changed-since`` in a git repository made for the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenantctl import selection
from tenants.loader import load_registry
from tests.conftest import run_cli
from tests.tenantctl.fleet_repo import add_second_cell, commit_all, copy_fleet, git, move_to_f2

REG = "registry"  # the registry's path inside the test repository


def _select(paths: list[str], base: Path, head: Path) -> selection.Selection:
    return selection.select(paths, load_registry(head), load_registry(base), "prod", REG)


@pytest.fixture
def sides(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture fleet twice: base and head (the test changes the head)."""
    return copy_fleet(tmp_path / "base"), copy_fleet(tmp_path / "head")


@pytest.mark.parametrize(("tenant", "stack"), [("alpha", "shared-f1"), ("delta", "tenant-delta")])
def test_a_changed_tenant_file_selects_exactly_its_stack(sides, tenant, stack):
    base, head = sides
    record = head / f"{tenant}.yaml"
    record.write_text(record.read_text() + "labels: {cost-center: changed}\n")
    chosen = _select([f"{REG}/{tenant}.yaml"], base, head)
    assert (chosen.head, chosen.base, chosen.everything) == ((stack,), (stack,), False)
    assert any(tenant in why for why in chosen.reasons[stack])


def test_touching_one_tenant_of_a_cell_plans_the_cell_with_all_its_tenants(sides):
    base, head = sides
    (head / "anvil.yaml").write_text((head / "anvil.yaml").read_text() + "display_name: Anvil Works\n")
    chosen = _select([f"{REG}/anvil.yaml"], base, head)
    assert chosen.head == ("shared-f1",)  # alpha, bravo and charlie are planned with it


def test_an_unchanged_registry_and_inert_paths_select_nothing(sides):
    base, head = sides
    chosen = _select(["docs/gate.md", "tests/tenantctl/test_plan.py", "README.md", "bench/x.py"], base, head)
    assert (chosen.head, chosen.base, chosen.everything) == ((), (), False)


@pytest.mark.parametrize("path", [f"{REG}/_platform.yaml", "tenants/plans.yaml", "components/program.py",
                                  "policy/rules/iso_net_01.py", "pyproject.toml", "__main__.py",
                                  ".github/workflows/policy-gate.yml", f"{REG}/notes/x.yaml"])
def test_code_and_shared_settings_select_every_stack(sides, path):
    base, head = sides
    chosen = _select([path], base, head)
    assert chosen.everything
    assert chosen.head == chosen.base == ("shared-f1", "tenant-delta")


def _remove_delta(registry: Path) -> None:
    """Delta's file and its ledger entry gone (a file alone is refused: its data would be orphaned)."""
    (registry / "delta.yaml").unlink()
    ledger = registry / "_allocations.yaml"
    ledger.write_text(ledger.read_text().replace("  delta:\n    network_cidr: 10.128.0.0/18\n", ""))


def test_a_deleted_tenant_selects_its_stack_on_the_base(sides):
    base, head = sides
    _remove_delta(head)
    chosen = _select([f"{REG}/delta.yaml"], base, head)
    assert (chosen.head, chosen.base) == ((), ("tenant-delta",))
    assert chosen.names == ("tenant-delta",)


def test_an_added_tenant_selects_its_new_stack(sides):
    base, head = sides
    _remove_delta(base)
    chosen = _select([f"{REG}/delta.yaml", f"{REG}/_allocations.yaml"], base, head)
    assert (chosen.head, chosen.base) == (("tenant-delta",), ())


def test_a_cell_move_selects_the_source_and_the_target(sides):
    base, head = sides
    add_second_cell(base)
    add_second_cell(head)
    move_to_f2(head, "alpha")
    chosen = _select([f"{REG}/alpha.yaml", f"{REG}/_allocations.yaml"], base, head)
    assert chosen.head == chosen.base == ("shared-f1", "shared-f2")


def test_a_move_the_paths_do_not_show_is_caught_by_the_net(sides):
    """The migration hook: a tenant living in other stacks on the two sides selects both."""
    base, head = sides
    add_second_cell(base)
    add_second_cell(head)
    move_to_f2(head, "alpha")
    chosen = _select([], base, head)
    assert chosen.head == ("shared-f1", "shared-f2")
    assert any("moves between stacks" in why for why in chosen.reasons["shared-f2"])


def test_a_ledger_change_selects_the_stacks_of_the_tenants_whose_entries_changed(sides):
    base, head = sides
    ledger = head / "_allocations.yaml"
    ledger.write_text(ledger.read_text().replace("10.128.0.0/18", "10.128.64.0/18"))
    chosen = _select([f"{REG}/_allocations.yaml"], base, head)
    assert chosen.head == ("tenant-delta",)
    assert "the ledger entry of delta changed" in chosen.reasons["tenant-delta"]


def test_no_base_registry_selects_everything(sides):
    _, head = sides
    chosen = selection.select([f"{REG}/alpha.yaml"], load_registry(head), None, "prod", REG)
    assert chosen.everything and chosen.head == ("shared-f1", "tenant-delta")


# --- through git and the CLI ------------------------------------------------------------
@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding the fixture fleet under registry/, committed."""
    root = tmp_path / "repo"
    copy_fleet(root / REG)
    commit_all(root)
    return root


def test_changed_paths_see_edits_untracked_files_and_both_names_of_a_rename(repo):
    (repo / REG / "alpha.yaml").write_text((repo / REG / "alpha.yaml").read_text() + "labels: {a: b}\n")
    (repo / REG / "new-one.yaml").write_text("id: new-one\n")
    git(repo, "mv", f"{REG}/anvil.yaml", f"{REG}/anvil2.yaml")
    assert selection.changed_paths(repo, "HEAD") == sorted(
        [f"{REG}/alpha.yaml", f"{REG}/anvil.yaml", f"{REG}/anvil2.yaml", f"{REG}/new-one.yaml"])


def test_the_base_registry_is_read_from_the_ref(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    _remove_delta(repo / REG)
    commit_all(repo, "delta leaves")
    with selection.registry_at(repo, base, repo / REG) as then:
        assert then is not None and "delta" in {t.id for t in then.tenants}
    with selection.registry_at(repo, "HEAD", repo / REG) as now:
        assert now is not None and "delta" not in {t.id for t in now.tenants}


def test_plan_changed_since_plans_exactly_the_touched_tenants_stack(repo, tmp_path):
    record = repo / REG / "delta.yaml"
    record.write_text(record.read_text().replace("plan: enterprise", "plan: standard"))
    out = tmp_path / "out"
    result = run_cli("plan", "--registry", str(repo / REG), "--changed-since", "HEAD", "--no-policy",
                     "--out", str(out), "--json")
    assert result.code == 0, result.err[-2000:]
    assert [s["name"] for s in json.loads((out / "plan.json").read_text())["stacks"]] == ["tenant-delta"]
    assert json.loads(result.out)["selection"]["head"] == ["tenant-delta"]


def test_plan_changed_files_takes_the_paths_from_a_file(repo, tmp_path):
    listing = tmp_path / "changed.txt"
    listing.write_text(f"{REG}/alpha.yaml\n\n")
    result = run_cli("plan", "--registry", str(repo / REG), "--changed-since", "HEAD", "--changed-files",
                     str(listing), "--matrix")
    assert result.code == 0, result.err
    assert [m["stacks"] for m in json.loads(result.out)] == [1]


@pytest.mark.parametrize(("argv", "message"), [
    (["--changed-since", "no-such-ref"], "is not a commit"),
    (["--changed-files", "x.txt"], "needs --changed-since"),
    (["--changed-since", "HEAD", "--stack", "shared-f1"], "drop --stack"),
])
def test_bad_selection_arguments_exit_2_with_one_line(repo, argv, message):
    result = run_cli("plan", "--registry", str(repo / REG), "--no-policy", *argv)
    assert result.code == 2
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_registry_outside_any_repository_is_invalid_input(tmp_path):
    registry = copy_fleet(tmp_path / "loose")
    result = run_cli("plan", "--registry", str(registry), "--changed-since", "HEAD", "--matrix")
    assert result.code == 2 and "not in a git repository" in result.err


def test_plan_base_plans_and_diffs_only_the_selected_stacks(repo, tmp_path):
    """``--base REF`` plans the base of the selected stacks only (here: with this checkout's code)."""
    record = repo / REG / "delta.yaml"
    record.write_text(record.read_text() + "labels: {cost-center: changed}\n")
    out = tmp_path / "out"
    result = run_cli("plan", "--registry", str(repo / REG), "--changed-since", "HEAD", "--base", "HEAD",
                     "--no-policy", "--out", str(out), "--json")
    assert result.code == 0, result.err[-2000:]
    assert [s["name"] for s in json.loads((out / "base-plan.json").read_text())["stacks"]] == ["tenant-delta"]
    diff = json.loads(result.out)["diff"]
    assert diff["addedStacks"] == [] and diff["removedStacks"] == []
