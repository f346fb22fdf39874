"""Moves into and out of the ``node`` tier, in place and between stacks.

A ``node``-tier tenant's dedicated pool (node group, launch template, node role, volume key)
is declared only while the tenant is on ``node`` and active. Its volume key encrypts only
the pool nodes' root volumes, which are deleted with their nodes, so it is not data-bearing
(components/node_pool.py): leaving ``node`` deletes the whole pool, key included, and the
data-loss guard accepts that, while it still refuses the deletion of any key that holds data.
The order is Pulumi's: creates and updates while the program runs, then the deletes of what
it no longer declares, in reverse dependency order. So the Deployments, which depend on the
node group they are pinned to, are rolled off the pool before the node group goes, and the
node group (through its launch template) goes before its key; moving onto the pool, the node
group is created before the Deployments that select it are updated.

The walks reuse test_migrate_plans.py's driver (the real steps through FakePulumi, every
stack declaring the tenant planned with the policy pack after every step), and route the
plans ``tenantctl migrate`` makes through the same per-spec cache, so each registry state
is planned once.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from tenantctl import migrate_plan as mp
from tenantctl import planner
from tenantctl.diff import Change, PlanDiff
from tenants import naming
from tenants.loader import load_registry
from tenants.migration import Target
from tenants.models import Tier
from tenants.stacks import StackSpec, fleet_stacks
from tests.conftest import run_cli
from tests.tenantctl.fake_pulumi import FakePulumi
from tests.tenantctl.migrate_support import (
    CELL_F2_ACCOUNT,
    CLUSTER_ACCOUNT,
    SOURCE_DSN,
    TARGET_DSN,
    FakeDatabases,
    FakeS3,
    walk_registry,
)
from tests.tenantctl.test_migrate_plans import _assert_no_name_has_two_owners, _drive, _plan, _plans_of

TENANT = "bravo"  # the fixture fleet's node-tier tenant, in cell f1
POOL = "tenant-platform:index:TenantNodePool"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
KEY = "aws:kms/key:Key"
#: What a Deployment's update changes when its pods move onto or off the pool.
PLACEMENT = {"spec.template.spec.nodeSelector", "spec.template.spec.tolerations"}


@pytest.fixture
def planned_once(monkeypatch) -> None:
    """``tenantctl migrate``'s own plans come from the walks' per-spec cache."""
    monkeypatch.setattr(planner, "plan_stack", _plan)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """The walk registry, with a zone for bravo's host in every account it can move to."""
    path = walk_registry(tmp_path / "registry")
    platform = yaml.safe_load((path / "_platform.yaml").read_text())
    host = load_registry(path).tenant(TENANT).hostname
    platform["hosted_zones"] += [{"domain": host, "zone_id": f"Z04BRAVO{n}", "account": account}
                                 for n, account in enumerate((CLUSTER_ACCOUNT, CELL_F2_ACCOUNT))]
    (path / "_platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    return path


def _spec(registry: Path, stack: str = "shared-f1") -> StackSpec:
    return next(s for s in fleet_stacks(load_registry(registry)) if s.name == stack)


def _pool(resources: list[dict]) -> set[str]:
    """URNs of the tenant's node pool's custom resources."""
    return {r["urn"] for r in resources if r.get("custom", True) and f"{POOL}$" in r["urn"]
            and r["name"].startswith(f"{TENANT}-")}


def _named(resources: list[dict], type_: str) -> list[dict]:
    return [r for r in resources if r["type"] == type_ and r["name"].startswith(f"{TENANT}-")]


def _needs(resources: list[dict], urn: str) -> set[str]:
    """Every URN a resource depends on, directly or not (Pulumi deletes it before them all)."""
    by_urn, seen, todo = {r["urn"]: r for r in resources}, set(), [urn]
    while todo:
        for dep in (by_urn[todo.pop()].get("options") or {}).get("dependsOn") or ():
            if dep not in seen and dep in by_urn:
                seen.add(dep)
                todo.append(dep)
    return seen


def _assert_pool_orders_around_the_pods(resources: list[dict]) -> None:
    """The pods wait for their node group, the node group for the key (deleted in reverse)."""
    [group] = _named(resources, NODE_GROUP)
    [key] = [r for r in _named(resources, KEY) if r["urn"] in _pool(resources)]
    assert key["urn"] in _needs(resources, group["urn"])
    assert (key["options"]["protect"], key["options"]["retainOnDelete"]) == (False, False)
    assert key["inputs"]["deletionWindowInDays"] == 30
    deployments = _named(resources, DEPLOYMENT)
    assert deployments and all(group["urn"] in d["options"]["dependsOn"] for d in deployments)


def _signature(diff: PlanDiff) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(c.action, c.urn, c.properties) for c in diff.changes}


def _theirs(diff: PlanDiff) -> list[Change]:
    return [c for c in diff.changes if c.tenant == TENANT]


def _move_in_place(registry: Path, tmp: Path, to: Tier, deployed: dict[str, list[dict]]) -> PlanDiff:
    """One in-place move of bravo: planned (accepted), then driven; what its up applied."""
    move = mp.decide(load_registry(registry), TENANT, Target(to), "prod")
    assert (move.steps, move.stacks) == (mp.IN_PLACE, ("shared-f1",))
    printed = mp.plan_steps(registry, move).diff("up")  # raises Refused (exit 1) on data loss
    applied = _drive(registry, tmp, move, FakePulumi(), (FakeDatabases(), FakeS3({})), deployed)
    assert list(applied) == [("up", "shared-f1")]
    assert _signature(applied["up", "shared-f1"]) == _signature(printed)  # the printed diff is the up
    return printed


def test_node_to_namespace_and_vcluster_and_back_in_place(registry, tmp_path, planned_once):
    start, scopes = _plans_of(registry, TENANT)
    _assert_no_name_has_two_owners(start, scopes, "before")
    deployed = dict(start)
    for n, to in enumerate((Tier.NAMESPACE, Tier.NODE, Tier.VCLUSTER, Tier.NODE)):
        before = deployed["shared-f1"]
        diff = _move_in_place(registry, tmp_path / f"move-{n}", to, deployed)
        after = deployed["shared-f1"]
        assert diff.errors == [] and not [c for c in diff.changes if c.loses_data]
        assert not [c for c in _theirs(diff) if c.action == "replace"], to  # updated in place
        pods = {c.urn: c for c in _theirs(diff) if c.type == DEPLOYMENT}
        assert pods and {u for u in pods if pods[u].action == "update"} == set(pods), to
        assert all(PLACEMENT <= set(c.properties) for c in pods.values()), to
        if to is Tier.NODE:  # onto the pool: created whole, before the pods that select it
            assert {c.urn for c in diff.changes if c.action == "create"} >= _pool(after)
            assert not [c for c in diff.changes if c.action == "delete" and c.urn in _pool(after)]
            _assert_pool_orders_around_the_pods(after)
        else:  # off the pool: deleted whole, key included, after the pods left (the base's order)
            assert {c.urn for c in diff.changes if c.action == "delete" and c.urn in _pool(before)} == (
                _pool(before))
            assert _pool(after) == set()
            _assert_pool_orders_around_the_pods(before)
    assert load_registry(registry).tenant(TENANT).tier is Tier.NODE


def test_the_pool_key_is_used_only_by_the_pools_nodes_whose_volumes_go_with_them(registry):
    """The premise of not protecting it: nothing but the pool's launch template (and the
    key's alias) uses the key, and every volume of that template is deleted on termination.
    A StorageClass, bucket or database encrypted with it would depend on it and fail this."""
    resources = _plan(_spec(registry)).resources
    [key] = [r for r in _named(resources, KEY) if r["urn"] in _pool(resources)]
    users = [r for r in resources if key["urn"] in (r.get("options") or {}).get("dependsOn", ())]
    template_type = "aws:ec2/launchTemplate:LaunchTemplate"
    assert sorted(r["type"] for r in users) == [template_type, "aws:kms/alias:Alias"]
    [template] = [r for r in users if r["type"] == template_type]
    assert template["inputs"]["blockDeviceMappings"]
    assert all(m["ebs"]["deleteOnTermination"] == "true" for m in template["inputs"]["blockDeviceMappings"])


def test_leaving_node_is_planned_and_accepted_by_the_cli(registry, tmp_path, planned_once):
    result = run_cli("migrate", TENANT, "--to", "vcluster", "--registry", str(registry), "--json",
                     "--state", str(tmp_path / "s.json"))
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["result"] == "planned"
    up = next(s for s in document["steps"] if s["step"] == "up")
    assert (up["ups"], up["diff"]["stacks"], up["diff"]["errors"]) == (["shared-f1"], ["shared-f1"], 0)
    assert up["diff"]["summary"]["delete"] >= len(_pool(_plan(_spec(registry)).resources))


def test_a_move_that_also_deletes_a_key_holding_data_is_still_refused(registry, tmp_path, monkeypatch):
    """Hostile: the same move, but its head plan also drops the tenant's files key (protected,
    retained: it encrypts the tenant's bucket). The pool key may go; that one may not."""
    files_key = f"{TENANT}-files-key-key"

    def losing_the_files_key(spec: StackSpec, *, policies: bool = True) -> planner.StackPlan:
        plan = _plan(spec)
        if next(t for t in spec.tenants if t.id == TENANT).tier is Tier.NODE:
            return plan
        return dataclasses.replace(plan, resources=[r for r in plan.resources if r["name"] != files_key])

    monkeypatch.setattr(planner, "plan_stack", losing_the_files_key)
    [key] = [r for r in _plan(_spec(registry)).resources if r["name"] == files_key]
    assert key["type"] == KEY and key["options"]["protect"]
    result = run_cli("migrate", TENANT, "--to", "namespace", "--registry", str(registry),
                     "--state", str(tmp_path / "s.json"))
    assert result.code == 1, result.err
    assert f"would lose data: delete {KEY} {files_key}" in result.err
    assert "volume-key" not in result.err  # the pool's key is not data
    assert not (tmp_path / "s.json").exists()


def test_node_to_cluster_and_back_to_node_never_has_a_name_owned_by_two_stacks(registry, tmp_path,
                                                                               planned_once):
    schema = naming.db_schema_name(TENANT)
    data = (FakeDatabases(servers={SOURCE_DSN: {schema: {"t": [1, 2]}}}),
            FakeS3({naming.TenantNames(TENANT, "prod").files_bucket: {"a": b"1"}}))
    start, scopes = _plans_of(registry, TENANT)
    _assert_no_name_has_two_owners(start, scopes, "before")
    deployed = dict(start)
    fake = FakePulumi()
    there = mp.decide(load_registry(registry), TENANT, Target(Tier.CLUSTER, account=CLUSTER_ACCOUNT), "prod")
    mp.plan_steps(registry, there)  # accepted
    applied = _drive(registry, tmp_path, there, fake, data, deployed)
    # The retired source declares no pool any more: retire-source deleted it, key included.
    gone = {c.urn for c in applied["retire-source", "shared-f1"].changes if c.action == "delete"}
    assert _pool(start["shared-f1"]) <= gone and _pool(deployed["shared-f1"]) == set()
    # Back onto a pool, in cell f2 (f1 keeps the first placement's data).
    data[0].servers = {SOURCE_DSN: data[0].servers[TARGET_DSN]}
    back = mp.decide(load_registry(registry), TENANT, Target(Tier.NODE, cell="f2"), "prod")
    assert (back.source_stack, back.target_stack) == (f"tenant-{TENANT}", "shared-f2")
    mp.plan_steps(registry, back)
    _drive(registry, tmp_path, back, fake, data, deployed)
    _assert_pool_orders_around_the_pods(deployed["shared-f2"])
    record = load_registry(registry).tenant(TENANT).record
    assert (record.tier, record.cell, record.generation) == (Tier.NODE, "f2", 3)
    assert [(p.tier, p.generation) for p in record.kept] == [(Tier.NODE, 1), (Tier.CLUSTER, 2)]
    assert _pool(deployed["shared-f1"]) == set() and _pool(deployed[f"tenant-{TENANT}"]) == set()
