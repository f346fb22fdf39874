"""The ``delegate`` step: a move that changes the host's serving zone waits for the operator.

Between ``switch`` (the target writes the host's records, in its own account's zone) and
``retire-source`` (the source stops serving), resolvers must be sent to the new zone: the
parent zone's NS records for the host, which only the operator changes. The run stops
there (exit 4) with the exact change, and ``--delegated`` continues it; the source is
never retired first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tenantctl import cli, delegation
from tenantctl import migrate_plan as mp
from tenantctl import migrate_steps as ms
from tenants import naming
from tenants.loader import load_registry
from tenants.migration import Target
from tenants.models import Tier
from tests.tenantctl.fake_pulumi import FakePulumi
from tests.tenantctl.migrate_support import (
    ALPHA_HOST,
    ALPHA_ZONES,
    CELL_F2_ACCOUNT,
    CLUSTER_ACCOUNT,
    SOURCE_DSN,
    TARGET_DSN,
    FakeDatabases,
    FakeS3,
    services,
    verbs,
    walk_registry,
)

PLATFORM_ACCOUNT = "123456789012"
PARENT = ("files.fleet.example", "Z01FLEETFILES", PLATFORM_ACCOUNT)


@pytest.fixture
def registry(tmp_path) -> Path:
    return walk_registry(tmp_path / "registry")


def to_cluster(registry: Path) -> mp.Move:
    return mp.decide(load_registry(registry), "alpha", Target(Tier.CLUSTER, account=CLUSTER_ACCOUNT), "prod")


def _zone(z) -> tuple[str, str | None, str | None]:
    return (z.domain, z.zone_id, z.account)


def test_a_move_into_another_accounts_zone_delegates_the_host_from_the_parent_zone(registry):
    move = to_cluster(registry)
    d = move.delegation
    assert d is not None and d.hostname == ALPHA_HOST and d.delegates
    assert _zone(d.source_zone) == PARENT and _zone(d.parent_zone) == PARENT
    assert _zone(d.target_zone) == (ALPHA_HOST, ALPHA_ZONES[CLUSTER_ACCOUNT], CLUSTER_ACCOUNT)
    assert move.steps == ("record", "target-up", "copy-data", "verify", "switch", "delegate",
                          "retire-source", "finish")
    text = "\n".join(d.instructions())
    assert f"aws route53 get-hosted-zone --id {ALPHA_ZONES[CLUSTER_ACCOUNT]}" in text
    assert "files.fleet.example (zone Z01FLEETFILES, account 123456789012)" in text
    assert f"set the NS records of {ALPHA_HOST}" in text and "--delegated" in text


def test_a_move_on_to_a_third_account_redelegates_and_one_back_to_the_parent_undelegates(registry, tmp_path):
    _run_to_the_end(registry, tmp_path)
    onward = mp.decide(load_registry(registry), "alpha", Target(Tier.NAMESPACE, cell="f2"), "prod")
    d = onward.delegation
    assert d is not None and d.delegates and _zone(d.parent_zone) == PARENT
    assert _zone(d.source_zone) == (ALPHA_HOST, ALPHA_ZONES[CLUSTER_ACCOUNT], CLUSTER_ACCOUNT)
    assert _zone(d.target_zone) == (ALPHA_HOST, ALPHA_ZONES[CELL_F2_ACCOUNT], CELL_F2_ACCOUNT)
    assert "replacing any earlier delegation" in d.instructions()[1]
    # Into an account whose zone is the parent itself (a cell of the platform account):
    # the parent answers again once the host's NS records are gone.
    back = delegation.needed(load_registry(registry).settings, ALPHA_HOST, CLUSTER_ACCOUNT, PLATFORM_ACCOUNT)
    assert back is not None and not back.delegates
    assert _zone(back.target_zone) == PARENT and _zone(back.parent_zone) == PARENT
    assert f"delete the NS records of {ALPHA_HOST}" in back.instructions()[0]


def test_moves_that_keep_the_serving_zone_have_no_delegate_step(registry, tmp_path):
    in_place = mp.decide(load_registry(registry), "alpha", Target(Tier.VCLUSTER), "prod")
    assert in_place.delegation is None and mp.DELEGATE not in in_place.steps
    # Without hosted_zones the zones are implied by name and in no known account: nothing to say.
    platform = yaml.safe_load((registry / "_platform.yaml").read_text())
    platform["hosted_zones"] = []
    (registry / "_platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    move = to_cluster(registry)
    assert move.delegation is None and move.steps == mp.BETWEEN_STACKS


def _data():
    schema = naming.db_schema_name("alpha")
    return (FakeDatabases(servers={SOURCE_DSN: {schema: {"documents": [(1, "a.pdf")]}}}),
            FakeS3({naming.TenantNames("alpha", "prod").files_bucket: {"a.pdf": b"%PDF"}}))


def _main(registry: Path, tmp: Path, fake: FakePulumi, data, *extra: str) -> int:
    databases, s3 = data
    argv = ["migrate", "alpha", "--to", "cluster", "--account", CLUSTER_ACCOUNT, "--registry", str(registry),
            "--state", str(tmp / "m.json"), "--work-dir", str(tmp / "w"), "--source-dsn", SOURCE_DSN,
            "--target-dsn", TARGET_DSN, "--today", "2026-12-02", *extra]
    args = cli.build_parser().parse_args(argv)
    args.pulumi_command, args.copy_schema, args.copy_objects = fake, databases.copy_schema, s3.copier
    args.verify_schema = databases.verify_schema
    return int(args.lifecycle(args, registry))


def _run_to_the_end(registry: Path, tmp: Path) -> None:
    state = ms.State(tmp / "direct.json", to_cluster(registry))
    assert ms.run(state, services(registry, tmp / "work", FakePulumi(), *_data())) is None


def test_the_run_waits_after_the_switch_and_never_retires_the_source_before_the_delegation(
        registry, tmp_path, capsys):
    fake, data = FakePulumi(), _data()
    assert _main(registry, tmp_path, fake, data, "--apply") == 4
    err = capsys.readouterr().err
    steps = json.loads((tmp_path / "m.json").read_text())["steps"]
    assert [steps[s]["status"] for s in ("switch", "delegate", "retire-source", "finish")] == [
        "done", "waiting", "pending", "pending"]
    assert "WAITING:" in err and f"aws route53 get-hosted-zone --id {ALPHA_ZONES[CLUSTER_ACCOUNT]}" in err
    assert "run the same command with --delegated" in err
    assert steps["delegate"]["detail"]["instructions"].count("\n") >= 3
    # target-up (the source's copier grant, then the target) and switch; the source still serves:
    assert verbs(fake.calls) == [("up", "shared-f1"), ("up", "tenant-alpha"), ("up", "tenant-alpha")]
    assert load_registry(registry).tenant("alpha").record.migration is not None

    # Asked again without the confirmation: still waiting, and no Pulumi call at all.
    calls = len(fake.calls)
    assert _main(registry, tmp_path, fake, data, "--apply") == 4
    assert len(fake.calls) == calls

    # Confirmed: the source is retired only now, then the move finishes.
    assert _main(registry, tmp_path, fake, data, "--apply", "--delegated") == 0
    assert verbs(fake.calls[calls:]) == [("up", "shared-f1")]
    steps = json.loads((tmp_path / "m.json").read_text())["steps"]
    assert all(s["status"] == "done" for s in steps.values())
    assert steps["delegate"]["detail"]["delegated"].startswith("confirmed by the operator")
    assert load_registry(registry).tenant("alpha").record.migration is None


def test_the_json_summary_names_the_waiting_step(registry, tmp_path, capsys):
    assert _main(registry, tmp_path, FakePulumi(), _data(), "--apply", "--json") == 4
    document = json.loads(capsys.readouterr().out)
    assert (document["result"], document["waitingStep"], document["failedStep"]) == (
        "waiting", "delegate", None)
    assert {s["step"]: s["status"] for s in document["steps"]}["delegate"] == "waiting"
    assert document["move"]["delegation"]["targetZone"]["zoneId"] == ALPHA_ZONES[CLUSTER_ACCOUNT]


@pytest.mark.parametrize("extra", [("--apply", "--delegated"), ("--delegated",)],
                         ids=["before-anything-ran", "without-apply"])
def test_delegated_is_refused_unless_the_run_waits_for_it(registry, tmp_path, capsys, extra):
    before = {p.name: p.read_text() for p in registry.iterdir()}
    fake = FakePulumi()
    assert _main(registry, tmp_path, fake, _data(), *extra) == 2
    assert "not waiting there" in capsys.readouterr().err
    assert fake.calls == [] and not (tmp_path / "m.json").exists()
    assert {p.name: p.read_text() for p in registry.iterdir()} == before


def test_delegated_while_an_earlier_step_failed_is_refused_and_changes_nothing(registry, tmp_path, capsys):
    fake, data = FakePulumi(lambda a: "error: AccessDenied" if a[0] == "up" else None), _data()
    assert _main(registry, tmp_path, fake, data, "--apply") == 3  # target-up failed
    state = (tmp_path / "m.json").read_text()
    assert _main(registry, tmp_path, fake, data, "--apply", "--delegated") == 2
    assert (tmp_path / "m.json").read_text() == state


def test_a_state_file_of_version_1_resumes_without_the_delegate_step(registry, tmp_path):
    move = to_cluster(registry)
    old = mp.Move(move.tenant, move.environment, move.source, move.target, move.source_stack,
                  move.target_stack)
    document = ms.State(tmp_path / "v1.json", old).as_json() | {"version": 1}
    (tmp_path / "v1.json").write_text(json.dumps(document))
    state = ms.State.load(tmp_path / "v1.json")
    assert state.move.delegation is None and state.move.steps == mp.BETWEEN_STACKS
    (tmp_path / "v3.json").write_text(json.dumps(document | {"version": 3}))
    with pytest.raises(ms.StateError, match="not a migration state file this tenantctl reads"):
        ms.State.load(tmp_path / "v3.json")
