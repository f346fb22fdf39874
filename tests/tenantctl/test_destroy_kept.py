"""Destroying the data a tier migration left behind, and moving back into that cell.

After ``namespace`` (cell f1) -> ``cluster``, cell f1 keeps alpha's first placement, retired,
its data protected. ``tenantctl offboard alpha --destroy-data --kept shared-f1`` destroys it
in the same two recorded phases as an offboarded tenant's data; the allowance the diff gets
is scoped to that one stack, so the tenant's live placement stays protected. Once destroyed,
the placement declares nothing and f1 may hold alpha again: ``namespace`` -> ``cluster`` ->
``namespace`` back into f1, with no physical name owned by two stacks at any step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tenantctl import migrate_plan as mp
from tenantctl import migrate_steps as ms
from tenantctl.diff import diff_plans
from tenants import naming, placements
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
    services,
    walk_registry,
)
from tests.tenantctl.test_lifecycle import offboard
from tests.tenantctl.test_migrate_plans import _assert_no_name_has_two_owners, _drive, _plans_of
from tests.tenantctl.test_offboard import assert_exact_ups, by_urn

KEPT = "shared-f1"


def _data() -> tuple[FakeDatabases, FakeS3]:
    schema = naming.db_schema_name("alpha")
    return (FakeDatabases(servers={SOURCE_DSN: {schema: {"t": [1, 2]}}}),
            FakeS3({naming.TenantNames("alpha", "prod").files_bucket: {"a": b"1"}}))


@pytest.fixture
def moved(tmp_path) -> Path:
    """The walk registry after alpha's move from namespace (cell f1) to cluster, all steps done."""
    registry = walk_registry(tmp_path / "registry")
    move = mp.decide(load_registry(registry), "alpha", Target(Tier.CLUSTER, account=CLUSTER_ACCOUNT), "prod")
    assert ms.run(ms.State(tmp_path / "there.json", move), services(registry, tmp_path / "w", FakePulumi(),
                                                                    *_data())) is None
    return registry


def _kept(registry: Path) -> list[dict]:
    return yaml.safe_load((registry / "alpha.yaml").read_text())["kept"]


def _alpha_resources(registry: Path, stack: str) -> list[dict]:
    plans, _ = _plans_of(registry, "alpha")
    return plans.get(stack, [])


def test_it_says_what_it_destroys_and_writes_nothing_without_yes(moved):
    before = (moved / "alpha.yaml").read_text()
    result = offboard(moved, "alpha", "--destroy-data", "--kept", KEPT)
    assert result.code == 2 and "add --yes" in result.err and "Traceback" not in result.err
    # Generation 1's names: the kept placement's, not the live cluster's (-g2).
    assert "aws:s3/bucket:Bucket tp-prod-alpha-files\n" in result.out
    assert "-g2" not in result.out and "postgresql:schema " in result.out
    assert (moved / "alpha.yaml").read_text() == before


@pytest.mark.parametrize(("extra", "message"), [
    (("--destroy-data", "--kept", "shared-f9", "--yes"), "keeps no placement there (it keeps shared-f1"),
    (("--destroy-data", "--kept", "tenant-alpha", "--yes"), "keeps no placement there"),
    (("--kept", KEPT), "--kept goes with --destroy-data"),
    (("--destroy-data", "--yes"), "tenant 'alpha' is active"),
], ids=["unknown-stack", "the-live-stack", "no-destroy-data", "live-placement"])
def test_what_it_refuses(moved, extra, message):
    before = (moved / "alpha.yaml").read_text()
    result = offboard(moved, "alpha", *extra)
    assert result.code == 2 and message in result.err, result.err
    assert (moved / "alpha.yaml").read_text() == before


def test_the_allowance_is_scoped_to_the_kept_stack(moved):
    assert offboard(moved, "alpha", "--destroy-data", "--kept", KEPT, "--yes").code == 0
    records = [t.record for t in load_registry(moved).tenants]
    allowed = placements.data_loss_allowed(records)
    assert ("alpha", KEPT) in allowed and "alpha" not in allowed
    # The live cluster's protected bucket deleted in the same change is still data loss.
    live = _alpha_resources(moved, "tenant-alpha")
    bucket = next(r for r in live if r["type"] == "aws:s3/bucket:Bucket" and r["options"].get("protect"))
    document = {"version": 2, "stacks": [{"name": "tenant-alpha", "tenants": ["alpha"], "resources": live}]}
    without = {"version": 2, "stacks": [{"name": "tenant-alpha", "tenants": ["alpha"],
                                          "resources": [r for r in live if r["urn"] != bucket["urn"]]}]}
    assert [c.urn for c in diff_plans(document, without, allowed).errors] == [bucket["urn"]]


def test_two_recorded_phases_leave_nothing_of_it_and_the_live_stack_untouched(moved):
    live_before = _alpha_resources(moved, "tenant-alpha")
    kept_before = {r["urn"]: r for r in _alpha_resources(moved, KEPT)}
    assert offboard(moved, "alpha", "--destroy-data", "--kept", KEPT, "--yes").code == 0
    assert _kept(moved)[0]["data"] == "destroy" and _kept(moved)[0]["final_snapshot"] is True
    released = {r["urn"]: r for r in _alpha_resources(moved, KEPT)}
    assert released.keys() == kept_before.keys()  # phase 1 deletes nothing, it lifts protection
    assert not any(r["options"].get("protect") or r["options"].get("retainOnDelete")
                   for r in released.values() if r["name"].startswith("alpha-"))
    assert offboard(moved, "alpha", "--destroy-data", "--kept", KEPT, "--yes").code == 0
    entry = _kept(moved)[0]
    assert entry["data"] == "destroyed" and entry["destroyed_on"] == "2026-12-01"
    plans, _ = _plans_of(moved, "alpha")
    # shared-f1 still lists alpha (its record), declaring nothing of it.
    assert not [r for r in plans[KEPT] if r["name"].startswith("alpha-") or "tenant-alpha" in r["urn"]]
    assert plans["tenant-alpha"] == live_before
    again = offboard(moved, "alpha", "--destroy-data", "--kept", KEPT, "--yes")
    assert again.code == 0 and "already destroyed (data) in shared-f1" in again.out
    assert run_cli("validate", "--registry", str(moved)).code == 0


def test_apply_brings_up_exactly_the_kept_stack_twice(moved, tmp_path):
    fake = FakePulumi()
    code = offboard(moved, "alpha", "--destroy-data", "--kept", KEPT, "--yes", "--apply", fake=fake,
                    tmp=tmp_path)
    assert code == 0
    assert_exact_ups(fake, KEPT, 2)
    assert _kept(moved)[0]["data"] == "destroyed"


def test_json_names_the_kept_stack(moved):
    result = offboard(moved, "alpha", "--destroy-data", "--kept", KEPT, "--yes", "--json")
    document = json.loads(result.out)
    assert result.code == 0 and document["kept"] == KEPT and document["stack"] == KEPT
    assert any(r["physical"] == "tp-prod-alpha-files" for r in document["destroys"])


def test_namespace_to_cluster_and_back_into_the_same_cell(moved, tmp_path):
    refused = run_cli("migrate", "alpha", "--to", "namespace", "--cell", "f1", "--registry", str(moved),
                      "--state", str(tmp_path / "refused.json"))
    assert refused.code == 2 and f"--destroy-data --kept {KEPT}" in refused.err
    assert offboard(moved, "alpha", "--destroy-data", "--kept", KEPT, "--yes").code == 0
    assert offboard(moved, "alpha", "--destroy-data", "--kept", KEPT, "--yes").code == 0
    start, scopes = _plans_of(moved, "alpha")
    _assert_no_name_has_two_owners(start, scopes, "before the move back")
    databases, s3 = _data()
    databases.servers = {SOURCE_DSN: {naming.db_schema_name("alpha"): {"t": [1, 2, 3]}}}
    back = mp.decide(load_registry(moved), "alpha", Target(Tier.NAMESPACE, cell="f1"), "prod")
    assert (back.source_stack, back.target_stack) == ("tenant-alpha", KEPT)
    _drive(moved, tmp_path, back, FakePulumi(), (databases, s3), dict(start))
    record = load_registry(moved).tenant("alpha").record
    assert (record.tier, record.cell, record.generation) == (Tier.NAMESPACE, "f1", 3)
    assert [(p.tier, p.generation, str(p.data)) for p in record.kept] == [
        (Tier.NAMESPACE, 1, "destroyed"), (Tier.CLUSTER, 2, "kept")]
    assert databases.servers[TARGET_DSN][naming.db_schema_name("alpha")]["t"] == [1, 2, 3]
    # f1 declares generation 3 (new names), nothing of generation 1.
    buckets = {r["inputs"].get("bucket") for r in by_urn({"stacks": [{"resources": _alpha_resources(
        moved, KEPT)}]}).values() if r["type"] == "aws:s3/bucket:Bucket"}
    assert {b for b in buckets if "-alpha-" in b} == {"tp-prod-alpha-files-g3", "tp-prod-alpha-logs-g3"}
