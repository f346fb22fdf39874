"""The plans of a migration: no physical name owned by two stacks and no mandatory policy
violation at any step, and the diff of each step is what its ``up`` applies.

The walk is the README's: ``namespace`` -> ``cluster`` -> ``namespace`` (back into cell f2,
since f1 keeps the first placement's data) on a registry with hosted zones (the fleet's,
plus a zone for alpha's host in each account it moves to), driven by the real steps
through FakePulumi, with the offline plan (policy pack included) of every stack declaring
the tenant taken after every step. A naive tier edit, planned the same way, shows what the
extraction of physical names catches.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantctl import migrate_plan as mp
from tenantctl import migrate_steps as ms
from tenantctl import physical_names, planner
from tenantctl.diff import PlanDiff, diff_plans
from tenants import naming
from tenants.loader import load_registry
from tenants.migration import Target
from tenants.models import Tier
from tenants.stacks import StackConfig, StackSpec, fleet_stacks, stack_for
from tests.conftest import run_cli
from tests.tenantctl.fake_pulumi import FakePulumi
from tests.tenantctl.migrate_support import (
    CLUSTER_ACCOUNT,
    SOURCE_DSN,
    TARGET_DSN,
    FakeDatabases,
    FakeS3,
    services,
    verbs,
    walk_registry,
)

_PLANS: dict[str, planner.StackPlan] = {}
#: The real planner, also while a test routes tenantctl's own planning through :func:`_plan`.
_PLAN_STACK = planner.plan_stack


def _plan(spec: StackSpec, *, policies: bool = True) -> planner.StackPlan:
    """The stack's plan, policy pack included, planned once per spec (a plan is a pure function
    of its spec: tenantctl/plan_cache.py). ``planner.plan_stack``'s signature, so that a test
    can route the plans ``tenantctl migrate`` makes through it (the verdicts are extra)."""
    key = hashlib.sha256(repr(spec).encode()).hexdigest()
    if key not in _PLANS:
        _PLANS[key] = _PLAN_STACK(spec)
    return _PLANS[key]


def _plans_of(registry: Path, tenant: str) -> tuple[dict[str, list[dict]], dict[str, physical_names.Scope]]:
    """Every stack declaring the tenant, planned with the policy pack (cached by the registry's
    content); a mandatory violation in any of them fails the test."""
    reg = load_registry(registry)
    specs = [s for s in fleet_stacks(reg) if any(t.id == tenant for t in s.tenants)]
    plans, scopes = {}, {}
    for spec in specs:
        plan = _plan(spec)
        mandatory = [(v["policy"], v["urn"]) for v in plan.violations if v["enforcement"] == "mandatory"]
        assert mandatory == [], (spec.name, mandatory)
        plans[spec.name], scopes[spec.name] = plan.resources, physical_names.scope_of(spec)
    return plans, scopes


def _document(plans: dict[str, list[dict]], stacks, tenant: str = "alpha") -> dict[str, Any]:
    return {"version": planner.PLAN_VERSION, "stacks": [
        {"name": s, "tenants": [tenant], "resources": plans[s]} for s in stacks if s in plans]}


def _diff(old: dict[str, list[dict]], new: dict[str, list[dict]], stacks, tenant: str = "alpha"):
    """The diff of some stacks from one set of plans to another (``diff_plans``)."""
    return diff_plans(_document(old, stacks, tenant), _document(new, stacks, tenant))


def _assert_no_name_has_two_owners(plans, scopes, when: str) -> None:
    assert physical_names.shared_names(plans, scopes) == {}, when
    # The AWS names that hold data differ even unqualified (Kubernetes names live in each
    # stack's own cluster: the retained namespace is tenant-<id> in both).
    bearing = {s: [r for r in res if r["type"].startswith("aws:")
                   and r["urn"] in physical_names.data_bearing(res)] for s, res in plans.items()}
    assert physical_names.shared_names(bearing, None) == {}, f"{when}: a data-bearing AWS name, even bare"


def test_a_naive_tier_edit_is_caught_by_the_names_and_refused_by_validation(tmp_path):
    registry = load_registry(walk_registry(tmp_path / "naive"))
    alpha = registry.tenant("alpha")
    moved = dataclasses.replace(alpha, cell=None, network_cidr="10.128.64.0/18", account=CLUSTER_ACCOUNT,
                                record=alpha.record.model_copy(update={
                                    "tier": Tier.CLUSTER, "cell": None, "account": CLUSTER_ACCOUNT}))
    tenants = tuple(moved if t.id == "alpha" else t for t in registry.tenants)
    naive = dataclasses.replace(registry, tenants=tenants)
    old_cell = stack_for(StackConfig("shared", cell="f1"), registry)
    new_cell, dedicated = (stack_for(StackConfig(r, **k), naive)
                           for r, k in (("shared", {"cell": "f1"}), ("dedicated", {"tenant": "alpha"})))
    old = planner.plan_stack(old_cell, policies=False).resources
    plans = {"shared-f1": old, "tenant-alpha": planner.plan_stack(dedicated, policies=False).resources}
    bare = physical_names.shared_names(plans, None)
    names = naming.TenantNames("alpha", "prod")
    for kind, name in (("aws:s3/bucket:Bucket", f"bucket={names.files_bucket}"),
                       ("aws:kms/alias:Alias", f"name={names.kms_alias('db')}"),
                       ("aws:secretsmanager/secret:Secret", f"name={names.db_secret}")):
        assert physical_names.Name("", kind, name) in bare
    # Every AWS name the tenant's own resources had in the cell is claimed by the new stack.
    theirs = {n for n, urns in physical_names.names(old).items() if n.kind.startswith("aws:")
              and any(u.rsplit("::", 1)[1].startswith("alpha-") for u in urns)}
    assert {n for n in bare if n.kind.startswith("aws:")} == theirs
    # Qualified by account: the global names (buckets) remain, and one of them holds the files.
    qualified = physical_names.shared_names(plans, {"shared-f1": physical_names.scope_of(old_cell),
                                                    "tenant-alpha": physical_names.scope_of(dedicated)})
    assert qualified and all(n.kind.startswith("aws:s3/") for n in qualified)
    # The old cell would simply lose the tenant, data-bearing resources included.
    kept = {r["urn"] for r in planner.plan_stack(new_cell, policies=False).resources}
    lost = [r for r in old if r["urn"] not in kept]
    assert physical_names.data_bearing(lost)
    # The registry refuses the edit and says what to do instead.
    walk = walk_registry(tmp_path / "registry")
    text = (walk / "alpha.yaml").read_text().replace("tier: namespace", "tier: cluster")
    (walk / "alpha.yaml").write_text(text + f"account: \"{CLUSTER_ACCOUNT}\"\n")
    result = run_cli("validate", "--registry", str(walk))
    assert result.code == 2
    assert "is a migration, not an edit" in result.err
    assert "`tenantctl migrate alpha --to cluster`" in result.err


def _drive(registry: Path, tmp: Path, move: mp.Move, fake: FakePulumi, data,
           deployed: dict[str, list[dict]]) -> dict[tuple[str, str], PlanDiff]:
    """Run a move step by step; after each, check the plans, the ups and what they applied.

    Returns what each up applied, by (step, stack)."""
    tenant, applied_by_up = move.tenant, {}
    state = ms.State(tmp / f"{tenant}-{move.target_stack}-{move.target.tier}.json", move)
    svc = services(registry, tmp / "work", fake, *data)
    for step in move.steps:
        before, _ = _plans_of(registry, tenant)
        fake.calls.clear()
        state.set(step, "running")
        state.set(step, "done", detail=ms.run_step(step, state, svc))
        after, scopes = _plans_of(registry, tenant)
        _assert_no_name_has_two_owners(after, scopes, f"after {step}")
        ups = [v[1] for v in verbs(fake.calls) if v[0] == "up"]
        assert ups == list(move.ups(step)), step
        for stack in ups:  # what that up applies: the stack as deployed -> as the registry says now
            applied = applied_by_up[step, stack] = _diff(deployed, after, [stack], tenant)
            assert applied.changes and not applied.errors, (step, stack)
            deployed[stack] = after[stack]
        if step in ("copy-data", "verify", mp.DELEGATE, "finish"):  # change nothing but what they bring up
            quiet = sorted((before.keys() | after.keys()) - set(move.ups(step)))
            assert _diff(before, after, quiet, tenant).changes == [], step
    # Once the move is done, every stack is deployed exactly as the registry declares it.
    final, _ = _plans_of(registry, tenant)
    for stack in final:
        assert _diff(deployed, final, [stack], tenant).changes == [], stack
    return applied_by_up


def test_namespace_to_cluster_and_back_never_has_a_name_owned_by_two_stacks(tmp_path):
    registry = walk_registry(tmp_path / "registry")
    schema = naming.db_schema_name("alpha")
    data = (FakeDatabases(servers={SOURCE_DSN: {schema: {"t": [1, 2]}}}),
            FakeS3({naming.TenantNames("alpha", "prod").files_bucket: {"a": b"1"}}))
    start, scopes = _plans_of(registry, "alpha")
    _assert_no_name_has_two_owners(start, scopes, "before")
    deployed = dict(start)
    fake = FakePulumi()
    there = mp.decide(load_registry(registry), "alpha", Target(Tier.CLUSTER, account=CLUSTER_ACCOUNT), "prod")
    _drive(registry, tmp_path, there, fake, data, deployed)
    # Back: the dedicated server (the first move's target) is now the source.
    data[0].servers = {SOURCE_DSN: data[0].servers[TARGET_DSN]}
    back = mp.decide(load_registry(registry), "alpha", Target(Tier.NAMESPACE, cell="f2"), "prod")
    assert (back.source_stack, back.target_stack) == ("tenant-alpha", "shared-f2")
    _drive(registry, tmp_path, back, fake, data, deployed)
    record = load_registry(registry).tenant("alpha").record
    assert (record.tier, record.generation) == (Tier.NAMESPACE, 3)
    assert [(p.tier, p.generation) for p in record.kept] == [(Tier.NAMESPACE, 1), (Tier.CLUSTER, 2)]
    stacks = sorted(_plans_of(registry, "alpha")[0])
    assert stacks == ["shared-f1", "shared-f2", "tenant-alpha"]  # both earlier placements kept, retired


def test_the_dry_run_prints_each_steps_diff_on_exactly_the_stacks_it_updates(tmp_path):
    registry = walk_registry(tmp_path / "registry")
    before = {p.name: p.read_text() for p in registry.iterdir()}
    result = run_cli("migrate", "alpha", "--to", "cluster", "--account", CLUSTER_ACCOUNT,
                     "--registry", str(registry), "--json", "--state", str(tmp_path / "s.json"))
    assert result.code == 0, result.err
    document = json.loads(result.out)
    steps = {s["step"]: s for s in document["steps"]}
    assert list(steps) == ["record", "target-up", "copy-data", "verify", "switch", "delegate",
                           "retire-source", "finish"] and document["result"] == "planned"
    for name, step in steps.items():
        assert step["diff"]["errors"] == 0, name
        if step["ups"]:
            assert step["diff"]["stacks"] == step["ups"], name
        elif name != "record":
            assert step["diff"]["summary"] == {}, name
    # Recording changes the source only by the copier's grant on its bucket and key (updates).
    assert steps["record"]["diff"]["stacks"] == ["shared-f1", "tenant-alpha"]
    assert set(steps["retire-source"]["diff"]["summary"]) <= {"update", "delete"}
    assert {p.name: p.read_text() for p in registry.iterdir()} == before  # nothing written
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(("argv", "code", "message"), [
    (("charlie", "--to", "vcluster"), 2, "already vcluster-tier"),
    (("alpha", "--to", "cluster"), 2, "needs the tenant's own AWS account"),
    (("alpha", "--to", "node", "--account", CLUSTER_ACCOUNT), 2, "only the cluster tier has its own account"),
    (("alpha", "--to", "namespace", "--cell", "f2"), 2, "not done by the platform"),
    (("nobody", "--to", "node"), 2, "not in the registry"),
    (("delta", "--to", "namespace", "--cell", "f1"), 2, "is over its capacity"),
    (("delta", "--to", "node"), 2, "needs --cell (cells: f1, f2)"),
    (("alpha", "--to", "cluster", "--account", "456789012345"), 2, "needs an account of its own"),
], ids=["same-tier", "no-account", "account-for-shared", "cell-to-cell", "unknown", "no-room",
        "no-cell", "taken-account"])
def test_moves_the_platform_cannot_make_are_refused_with_the_reason(tmp_path, argv, code, message):
    registry = walk_registry(tmp_path / "registry")
    if "delta" in argv:  # a full cell, and (so that the zone is not the reason) delta's zone made there
        platform = yaml.safe_load((registry / "_platform.yaml").read_text())
        platform["cell_capacity"] = 4
        platform["hosted_zones"].append({"domain": "delta.example", "zone_id": "Z05DELTAF1",
                                         "account": "123456789012"})
        (registry / "_platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    result = run_cli("migrate", *argv, "--registry", str(registry), "--state", str(tmp_path / "s.json"))
    assert result.code == code and message in result.err, result.err
    assert "Traceback" not in result.err and not (tmp_path / "s.json").exists()


def test_an_offboarded_tenant_is_refused(tmp_path):
    registry = walk_registry(tmp_path / "registry")
    assert run_cli("offboard", "anvil", "--registry", str(registry)).code == 0
    result = run_cli("migrate", "anvil", "--to", "node", "--registry", str(registry),
                     "--state", str(tmp_path / "s.json"))
    assert result.code == 2 and "offboarded, not active" in result.err


def test_a_move_back_into_the_cell_that_keeps_the_first_placement_is_refused(tmp_path):
    registry = walk_registry(tmp_path / "registry")
    schema = naming.db_schema_name("alpha")
    data = (FakeDatabases(servers={SOURCE_DSN: {schema: {"t": [1]}}}), FakeS3({}))
    move = mp.decide(load_registry(registry), "alpha", Target(Tier.CLUSTER, account=CLUSTER_ACCOUNT), "prod")
    run = services(registry, tmp_path / "w", FakePulumi(), *data)
    assert ms.run(ms.State(tmp_path / "s.json", move), run) is None
    result = run_cli("migrate", "alpha", "--to", "namespace", "--registry", str(registry),
                     "--state", str(tmp_path / "next.json"))
    assert result.code == 2
    assert "stack shared-f1, which already declares" in result.err and "move to another cell" in result.err
