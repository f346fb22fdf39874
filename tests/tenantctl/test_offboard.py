"""Offboarding every tier, and destroying an offboarded tenant's data, in recorded phases.

Each test works on a copy of the fixture fleet. Plans are the offline planner's (mock
engine + policy pack); ``--apply`` runs through Pulumi's own seam, an injected
PulumiCommand (FakePulumi), which also snapshots the tenant's file at every ``up`` so the
tests see what each update was given.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tenantctl import planner
from tenantctl.diff import changed_paths, diff_plans
from tenantctl.offboard import stack_of
from tenants.loader import load_registry
from tenants.naming import DbServerNames
from tests.conftest import FIXTURE_FLEET, run_cli
from tests.tenantctl.fake_pulumi import FakePulumi
from tests.tenantctl.test_lifecycle import offboard  # the one CLI driver of offboarding

#: What a data-only stack must not hold: the cluster, its nodes, egress and Kubernetes.
SERVING_TYPES = ("aws:eks/", "aws:ec2/natGateway:", "aws:ec2/eip:", "aws:ec2/internetGateway:",
                 "aws:ec2/launchTemplate:", "aws:iam/openIdConnectProvider:", "aws:rds/proxy",
                 "kubernetes:", "pulumi:providers:kubernetes")


def _copy(target: Path) -> Path:
    shutil.copytree(FIXTURE_FLEET, target)
    return target


@pytest.fixture
def registry(tmp_path) -> Path:
    return _copy(tmp_path / "registry")


def plan(registry: Path, stack: str, out: Path) -> dict:
    result = run_cli("plan", "--registry", str(registry), "--stack", stack, "--out", str(out))
    assert result.code == 0, result.out[-3000:]
    return json.loads((out / "plan.json").read_text())


def lifecycle(registry: Path, tenant: str) -> dict:
    return yaml.safe_load((registry / f"{tenant}.yaml").read_text()).get("lifecycle", {})


def recorder(registry: Path, tenant: str, fail_at: int | None = None):
    """A FakePulumi that records the tenant's lifecycle at each ``up`` (and fails the n-th)."""
    seen: list[dict] = []

    def on_call(args: list[str]) -> str | None:
        if args[0] != "up":
            return None
        seen.append(lifecycle(registry, tenant))
        return "error: update failed" if fail_at is not None and len(seen) == fail_at else None

    return FakePulumi(on_call), seen


def verbs(fake: FakePulumi) -> list[str]:
    return [" ".join(c[:2]) if c[0] in ("stack", "config") else c[0] for c in fake.calls]


#: The Automation API's calls for one ``up`` of one stack, in order.
ONE_UP = ["stack select", "config set-all", "up", "stack output", "stack output", "stack history"]


def assert_exact_ups(fake: FakePulumi, stack: str, times: int) -> None:
    """Exactly ``times`` rounds of ONE_UP, every call on ``stack``, ``up`` with the policy pack."""
    assert verbs(fake) == ONE_UP * times
    assert all(c[c.index("--stack") + 1] == stack for c in fake.calls)
    assert all("--yes" in c and "--policy-pack" in c for c in fake.ran("up"))


def by_urn(document: dict) -> dict[str, dict]:
    return {r["urn"]: r for s in document["stacks"] for r in s["resources"]}


def keeps(resource: dict) -> bool:
    return bool(resource["options"]["protect"] or resource["options"]["retainOnDelete"])


# --- the dedicated tenant's data-only stack ---------------------------------------------------
@pytest.fixture(scope="module")
def delta_phases(tmp_path_factory) -> dict[str, dict]:
    """delta's stack planned active, retiring, offboarded, data: destroy, data: destroyed."""
    tmp = tmp_path_factory.mktemp("delta")
    registry = _copy(tmp / "registry")
    plans = {"active": plan(registry, "tenant-delta", tmp / "active")}
    for phase, extra in (("retiring", ()), ("offboarded", ()), ("destroy", ("--destroy-data", "--yes")),
                         ("destroyed", ("--destroy-data", "--yes"))):
        result = offboard(registry, "delta", *extra)
        assert result.code == 0, result.out[-3000:] + result.err
        plans[phase] = plan(registry, "tenant-delta", tmp / phase)
    plans["registry"] = {"path": str(registry)}
    return plans


def test_an_offboarded_dedicated_stack_holds_no_cluster_nodes_egress_or_kubernetes(delta_phases):
    resources = by_urn(delta_phases["offboarded"]).values()
    serving = sorted(f"{r['type']} {r['name']}" for r in resources if r["type"].startswith(SERVING_TYPES))
    assert serving == []
    types = {r["type"] for r in resources}
    # What the data needs is still there: instance, its network, keys, buckets, logs.
    assert {"aws:rds/instance:Instance", "aws:rds/subnetGroup:SubnetGroup", "aws:ec2/subnet:Subnet",
            "aws:ec2/vpc:Vpc", "aws:kms/key:Key", "aws:s3/bucket:Bucket",
            "aws:cloudwatch/logGroup:LogGroup", "aws:secretsmanager/secret:Secret"} <= types
    assert len(resources) < len(by_urn(delta_phases["active"])) / 2


def test_every_data_resource_of_the_active_stack_stays_kept(delta_phases):
    active, retiring, offboarded = (by_urn(delta_phases[p]) for p in ("active", "retiring", "offboarded"))
    data = {u for u, r in active.items() if keeps(r)}
    namespace = {u for u in data if active[u]["type"] == "kubernetes:core/v1:Namespace"}
    # The namespace lives in the cluster and goes with it: released in the first update.
    assert len(namespace) == 1 and not keeps(retiring[namespace.pop()])
    kept = {u for u in data if active[u]["type"] != "kubernetes:core/v1:Namespace"}
    assert kept <= set(offboarded), sorted(kept - set(offboarded))
    assert all(keeps(offboarded[u]) for u in kept)
    # Neither update loses data by tenantctl's own diff (no destruction recorded).
    for base, head in (("active", "retiring"), ("retiring", "offboarded")):
        diff = diff_plans(delta_phases[base], delta_phases[head], allowed_data_loss=())
        assert diff.errors == [], [c.name for c in diff.errors]
        assert diff.counts()["delete"] > 0 or head == "retiring"


def test_the_first_update_lifts_the_clusters_deletion_protection(delta_phases):
    def eks(phase: str) -> dict:
        return next(r for r in by_urn(delta_phases[phase]).values() if r["type"] == "aws:eks/cluster:Cluster")

    assert eks("active")["inputs"]["deletionProtection"] is True
    assert eks("retiring")["inputs"]["deletionProtection"] is False


def test_nothing_in_the_data_only_stack_depends_on_what_it_removed(delta_phases):
    resources = by_urn(delta_phases["offboarded"])
    # The only inputs that change are the retired identity's trust, the policies that named
    # the retired chatbot role, and the bootstrap's login: nothing else lost a dependency.
    active = by_urn(delta_phases["active"])
    changed = {r["name"] for u, r in resources.items()
               if list(changed_paths(active[u]["inputs"], r["inputs"]))}
    assert changed == {"delta-files-storage-files-policy", "delta-files-key-key", "delta-db-bootstrap",
                       "delta-fileserver-role"}
    removed = set(by_urn(delta_phases["active"])) - set(resources)
    for res in resources.values():
        inputs_from = (res["options"].get("propertyDependencies") or {}).values()
        refs = {*res["options"]["dependsOn"], res["options"]["provider"], res["parent"],
                *(u for urns in inputs_from for u in urns)}
        assert not refs & removed, (res["name"], sorted(refs & removed))


def test_the_policy_pack_passes_the_data_only_stack(delta_phases):
    registry = load_registry(Path(delta_phases["registry"]["path"]))
    # The fixture ran the whole life; judge the data-only phase on a fresh copy of it.
    assert registry.tenant("delta").record.lifecycle.data_destroyed
    copy = Path(delta_phases["registry"]["path"]).parent / "judge"
    shutil.copytree(FIXTURE_FLEET, copy)
    assert offboard(copy, "delta").code == 0 and offboard(copy, "delta").code == 0
    spec = stack_of(load_registry(copy), "delta", "prod")
    stack = planner.plan_stack(spec, policies=True)
    assert [v for v in stack.violations if v["enforcement"] == "mandatory"] == []


# --- destroying the data: the components' flags ----------------------------------------------
def test_phase_one_declares_the_data_unprotected_and_deletable(delta_phases):
    resources = list(by_urn(delta_phases["destroy"]).values())

    def one(type_: str, name: str) -> dict:
        return next(r for r in resources if r["type"] == type_ and r["name"] == name)

    instance = one("aws:rds/instance:Instance", "delta-db-server-instance")
    assert instance["options"]["protect"] is False and instance["options"]["retainOnDelete"] is False
    assert instance["inputs"]["deletionProtection"] is False
    assert instance["inputs"]["skipFinalSnapshot"] is False
    assert instance["inputs"]["finalSnapshotIdentifier"] == DbServerNames("tp-prod-delta-db").final_snapshot
    for bucket in [r for r in resources if r["type"] == "aws:s3/bucket:Bucket"]:
        assert bucket["inputs"]["forceDestroy"] is True and not keeps(bucket)
    keys = {r["name"]: r for r in resources if r["type"] == "aws:kms/key:Key"}
    assert all(k["options"]["protect"] is False for k in keys.values())
    # The key of the kept final snapshot stays in the account; every other key is deleted.
    assert [n for n, k in keys.items() if k["options"]["retainOnDelete"]] == ["delta-db-key"]
    assert not [r for r in resources if r["type"] == "aws:cloudwatch/logGroup:LogGroup" and keeps(r)]
    bootstrap = next(r for r in resources if r["type"].startswith("pulumi-python:dynamic/"))
    assert bootstrap["inputs"]["drop_data_on_delete"] is True


def test_phase_two_declares_nothing_of_the_tenant(delta_phases):
    assert by_urn(delta_phases["destroyed"]) == {}


def test_the_diff_of_each_destruction_phase_is_accepted(delta_phases, tmp_path):
    registry = delta_phases["registry"]["path"]
    for base, head in (("destroy", "destroyed"), ("offboarded", "destroyed")):
        for name, document in (("base", delta_phases[base]), ("head", delta_phases[head])):
            (tmp_path / f"{name}.json").write_text(json.dumps(document))
        result = run_cli("diff", "--registry", registry, "--base", str(tmp_path / "base.json"),
                         "--head", str(tmp_path / "head.json"))
        assert result.code == 0, result.out[-2000:]
        assert " to delete" in result.out and "data loss" not in result.out


def test_no_final_snapshot_is_recorded_and_releases_its_key(registry, tmp_path):
    offboard(registry, "delta")
    offboard(registry, "delta")
    result = offboard(registry, "delta", "--destroy-data", "--no-final-snapshot", "--yes")
    assert result.code == 0, result.err
    assert lifecycle(registry, "delta")["final_snapshot"] is False
    resources = by_urn(plan(registry, "tenant-delta", tmp_path / "p")).values()
    instance = next(r for r in resources if r["type"] == "aws:rds/instance:Instance")
    assert instance["inputs"]["skipFinalSnapshot"] is True
    assert not [r for r in resources if r["type"] == "aws:kms/key:Key" and keeps(r)]


# --- the command: exact Pulumi calls, phases recorded, resumption ------------------------------
def test_offboard_apply_of_a_shared_tenant_is_one_up_of_its_cell(registry, tmp_path):
    fake, seen = recorder(registry, "alpha")
    assert offboard(registry, "alpha", "--apply", fake=fake, tmp=tmp_path) == 0
    assert_exact_ups(fake, "shared-f1", 1)
    assert [s["state"] for s in seen] == ["offboarded"]
    record = lifecycle(registry, "alpha")
    assert record["data"] == "kept" and record["offboarded_on"] == "2026-12-01" and record["kept"]


def test_offboard_apply_of_a_dedicated_tenant_is_two_ups_of_its_stack(registry, tmp_path):
    fake, seen = recorder(registry, "delta")
    assert offboard(registry, "delta", "--apply", fake=fake, tmp=tmp_path) == 0
    assert_exact_ups(fake, "tenant-delta", 2)
    assert [s["state"] for s in seen] == ["retiring", "offboarded"]
    assert all(s["data"] == "kept" for s in seen)


def test_destroy_data_apply_runs_both_phases_in_order(registry, tmp_path):
    offboard(registry, "alpha")
    fake, seen = recorder(registry, "alpha")
    code = offboard(registry, "alpha", "--destroy-data", "--yes", "--apply", fake=fake, tmp=tmp_path)
    assert code == 0
    assert_exact_ups(fake, "shared-f1", 2)  # never `pulumi destroy`: the cell stays
    assert [s["data"] for s in seen] == ["destroy", "destroyed"]
    assert seen[0]["final_snapshot"] is True and seen[1]["destroyed_on"] == "2026-12-01"
    # Its placement stays reserved and its file stays the record.
    assert run_cli("validate", "--registry", str(registry), "--locked").code == 0


@pytest.mark.parametrize("fail_at", [1, 2], ids=["phase-1-fails", "phase-2-fails"])
def test_a_failed_phase_stops_there_and_rerunning_resumes(registry, tmp_path, fail_at):
    offboard(registry, "alpha")
    fake, seen = recorder(registry, "alpha", fail_at=fail_at)
    argv = ("--destroy-data", "--yes", "--apply")
    assert offboard(registry, "alpha", *argv, fake=fake, tmp=tmp_path) == 3
    assert verbs(fake) == ONE_UP * (fail_at - 1) + ONE_UP[:3]  # nothing after the failed up
    assert lifecycle(registry, "alpha")["data"] == ["destroy", "destroyed"][fail_at - 1]
    again, seen_again = recorder(registry, "alpha")
    assert offboard(registry, "alpha", *argv, fake=again, tmp=tmp_path) == 0
    assert_exact_ups(again, "shared-f1", 3 - fail_at)
    # The recorded phase is brought up again, then whatever remains.
    assert [s["data"] for s in seen_again] == ["destroy", "destroyed"][fail_at - 1:]
    assert lifecycle(registry, "alpha")["data"] == "destroyed"


def test_destroy_data_says_what_it_destroys_and_refuses_without_yes(registry):
    offboard(registry, "alpha")
    before = (registry / "alpha.yaml").read_text()
    result = offboard(registry, "alpha", "--destroy-data")
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.strip().splitlines() == [
        "tenantctl offboard: --destroy-data deletes data for good: add --yes to go ahead (nothing written)"]
    assert "aws:s3/bucket:Bucket tp-prod-alpha-files" in result.out
    assert "kubernetes:core/v1:Namespace" in result.out
    assert "postgresql:schema " in result.out  # dropped by the bootstrap's delete in phase 2
    assert (registry / "alpha.yaml").read_text() == before


@pytest.mark.parametrize(("tenant", "extra", "message"), [
    ("anvil", ("--destroy-data", "--yes"), "tenant 'anvil' is active: only an offboarded tenant's data"),
    ("nobody", (), "tenant 'nobody' is not in the registry"),
    ("anvil", ("--no-final-snapshot",), "--no-final-snapshot goes with --destroy-data"),
], ids=["active-tenant", "unknown-id", "snapshot-without-destroy"])
def test_refusals_exit_2_with_one_line_and_write_nothing(registry, tenant, extra, message):
    files = {p.name: p.read_text() for p in registry.iterdir()}
    result = offboard(registry, tenant, *extra)
    assert result.code == 2 and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1 and message in result.err, result.err
    assert {p.name: p.read_text() for p in registry.iterdir()} == files


def test_json_output_is_one_document_of_the_phases(registry):
    offboard(registry, "alpha")
    result = offboard(registry, "alpha", "--destroy-data", "--yes", "--json")
    document = json.loads(result.out)
    assert result.code == 0 and document["exitCode"] == 0 and document["stack"] == "shared-f1"
    assert {"type": "aws:s3/bucket:Bucket", "name": "alpha-files-storage-files",
            "physical": "tp-prod-alpha-files"} in document["destroys"]
    (phase,) = document["phases"]
    assert phase["lifecycle"]["data"] == "destroy" and phase["recorded"] and not phase["applied"]
    refused = offboard(registry, "anvil", "--destroy-data", "--json")
    assert json.loads(refused.out)["exitCode"] == 2 and refused.code == 2
    assert len(refused.err.strip().splitlines()) == 1


def test_another_tenants_deletion_is_still_refused(registry, tmp_path):
    offboard(registry, "alpha")
    offboard(registry, "alpha", "--destroy-data", "--yes")
    base = plan(registry, "shared-f1", tmp_path / "base")
    head = json.loads(json.dumps(base))
    stack = head["stacks"][0]
    stack["resources"] = [r for r in stack["resources"] if r["name"] != "anvil-files-storage-files"]
    (tmp_path / "head.json").write_text(json.dumps(head))
    result = run_cli("diff", "--registry", str(registry), "--base", str(tmp_path / "base" / "plan.json"),
                     "--head", str(tmp_path / "head.json"))
    assert result.code == 1
    assert "data loss: delete of aws:s3/bucket:Bucket anvil-files-storage-files" in result.out


def test_a_destroyed_tenant_leaves_its_cell_and_its_schema_is_dropped(registry, tmp_path):
    offboard(registry, "alpha")
    offboard(registry, "alpha", "--destroy-data", "--yes")
    released = by_urn(plan(registry, "shared-f1", tmp_path / "p1"))
    bootstrap = next(r for r in released.values() if r["type"].startswith("pulumi-python:dynamic/")
                     and r["name"] == "alpha-db-bootstrap")
    assert bootstrap["inputs"]["drop_data_on_delete"] is True
    offboard(registry, "alpha", "--destroy-data", "--yes")
    gone = by_urn(plan(registry, "shared-f1", tmp_path / "p2"))
    assert not [r for r in gone.values() if r["name"].startswith("alpha-")]
    assert [r for r in gone.values() if r["name"].startswith("anvil-")]
