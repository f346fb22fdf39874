"""DNS of a move between accounts: the host's zone follows the placement serving it.

Before a move, a zone for exactly the tenant's host is made in the target account (not yet
delegated) and listed under ``hosted_zones``: ``tenantctl migrate`` refuses the move
without it. While the move is recorded, each stack looks the host up in its own account
only, so the source keeps the parent zone it writes until the switch although the
target's zone is the longer match, and the loader's zone check follows the serving
placement: the source's account before the switch, the target's after it. A host whose
zone is only in an account it does not serve from is refused, moving or not.
"""

from __future__ import annotations

import json

import pytest
import yaml

from tenantctl import planner
from tenants.loader import load_registry
from tenants.problems import RegistryInvalid
from tenants.stacks import fleet_stacks
from tests.conftest import run_cli
from tests.tenantctl.migrate_support import (
    ALPHA_HOST,
    ALPHA_ZONES,
    CELL_F2_ACCOUNT,
    CLUSTER_ACCOUNT,
    walk_registry,
)

PLATFORM_ACCOUNT = "123456789012"  # the fixture fleet's, holding cell f1 and its zones
FLEET_ZONE = "Z01FLEETFILES"  # files.fleet.example, the platform account's (the fixture fleet's)
MOVING = {"tier": "cluster", "account": CLUSTER_ACCOUNT, "generation": 2,
          "migration": {"source": {"tier": "namespace", "cell": "f1"}, "state": "moving"}}


def _edit(path, **fields):
    data = yaml.safe_load(path.read_text())
    data.update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _switched() -> dict:
    return {**MOVING, "migration": {**MOVING["migration"], "state": "switched"}}


def _zone_problems(registry) -> list[str]:
    with pytest.raises(RegistryInvalid) as err:
        load_registry(registry)
    return [f"{p.file}: {p.message}" for p in err.value.problems if p.field == "hostname"]


def test_a_move_to_an_account_without_a_zone_for_the_host_is_refused_with_what_to_do(tmp_path):
    registry = walk_registry(tmp_path / "registry", alpha_zones=(CELL_F2_ACCOUNT,))
    before = {p.name: p.read_text() for p in registry.iterdir()}
    result = run_cli("migrate", "alpha", "--to", "cluster", "--account", CLUSTER_ACCOUNT,
                     "--registry", str(registry), "--state", str(tmp_path / "s.json"))
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert f"{ALPHA_HOST} has no hosted zone in account {CLUSTER_ACCOUNT}" in result.err
    assert "list it under hosted_zones" in result.err
    assert {p.name: p.read_text() for p in registry.iterdir()} == before
    # A move inside the cell's account needs no new zone.
    assert run_cli("migrate", "alpha", "--to", "vcluster", "--registry", str(registry),
                   "--state", str(tmp_path / "v.json")).code == 0
    # With the zone listed, the same move plans.
    zoned = walk_registry(tmp_path / "zoned")
    assert run_cli("migrate", "alpha", "--to", "cluster", "--account", CLUSTER_ACCOUNT,
                   "--registry", str(zoned), "--state", str(tmp_path / "c.json")).code == 0


def test_each_stack_takes_the_hosts_zone_in_its_own_account(tmp_path):
    registry = walk_registry(tmp_path / "registry")
    # Before the move the cluster account's zone is listed, and the cell still uses the parent.
    stacks = {s.name: s for s in fleet_stacks(load_registry(registry))}
    assert FLEET_ZONE in [z.zone_id for z in stacks["shared-f1"].dns_zones]
    assert ALPHA_ZONES[CLUSTER_ACCOUNT] not in [z.zone_id for z in stacks["shared-f1"].dns_zones]
    _edit(registry / "alpha.yaml", **MOVING)
    stacks = {s.name: s for s in fleet_stacks(load_registry(registry))}
    assert FLEET_ZONE in [z.zone_id for z in stacks["shared-f1"].dns_zones]
    assert [z.zone_id for z in stacks["tenant-alpha"].dns_zones] == [ALPHA_ZONES[CLUSTER_ACCOUNT]]


def _dns_grants(registry) -> dict[str, list[dict]]:
    """The target's external-dns and cert-manager role policies, as planned."""
    spec = next(s for s in fleet_stacks(load_registry(registry)) if s.name == "tenant-alpha")
    resources = planner.plan_stack(spec, policies=False).resources
    return {addon: json.loads(next(r["inputs"]["policy"] for r in resources
                                   if r["urn"].endswith(f"-addons-{addon}-role-policy")))["Statement"]
            for addon in ("external-dns", "cert-manager")}


def test_the_target_is_granted_the_host_in_its_own_zone_only_once_it_serves(tmp_path):
    registry = walk_registry(tmp_path / "registry")
    _edit(registry / "alpha.yaml", **MOVING)
    for statements in _dns_grants(registry).values():
        assert [s for s in statements if "hostedzone" in json.dumps(s["Resource"])] == []
    _edit(registry / "alpha.yaml", **_switched())
    zone_arn = f"arn:aws:route53:::hostedzone/{ALPHA_ZONES[CLUSTER_ACCOUNT]}"
    for addon, statements in _dns_grants(registry).items():
        writes = [s for s in statements if s["Action"] == "route53:ChangeResourceRecordSets"]
        assert [s["Resource"] for s in writes] == [[zone_arn]], addon
        assert ALPHA_HOST in json.dumps(writes[0]["Condition"]), addon


def test_the_zone_check_follows_the_serving_placement(tmp_path):
    registry = walk_registry(tmp_path / "registry", alpha_zones=())
    # Moving: the source serves from the platform account's zone; no target zone needed yet.
    _edit(registry / "alpha.yaml", **MOVING)
    load_registry(registry)
    # Switched: the target serves, and its account has no zone for the host.
    _edit(registry / "alpha.yaml", **_switched())
    problems = _zone_problems(registry)
    assert len(problems) == 1 and problems[0].startswith("alpha.yaml")
    assert f"the stack serving it deploys into account {CLUSTER_ACCOUNT}" in problems[0]
    # With the zone in the target account, the switched move is valid.
    zoned = walk_registry(tmp_path / "zoned", alpha_zones=(CLUSTER_ACCOUNT,))
    _edit(zoned / "alpha.yaml", **_switched())
    load_registry(zoned)


@pytest.mark.parametrize("state", ["moving", "switched"])
def test_a_zone_claimed_in_an_account_the_host_is_not_served_from_is_refused(tmp_path, state):
    # Alpha's own domain has a zone in f2's account only: alpha serves from the platform
    # account (moving) or its own (switched), never from f2's.
    registry = walk_registry(tmp_path / "registry")
    platform = yaml.safe_load((registry / "_platform.yaml").read_text())
    platform["hosted_zones"].append({"domain": "alpha-corp.example", "zone_id": "Z04ALPHACORP",
                                     "account": CELL_F2_ACCOUNT})
    (registry / "_platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    _edit(registry / "alpha.yaml", hostname="files.alpha-corp.example",
          **(MOVING if state == "moving" else _switched()))
    problems = _zone_problems(registry)
    serving = PLATFORM_ACCOUNT if state == "moving" else CLUSTER_ACCOUNT
    assert len(problems) == 1, problems
    assert (f"its hosted zone alpha-corp.example is in account {CELL_F2_ACCOUNT}, but the stack "
            f"serving it deploys into account {serving}") in problems[0]


def test_a_host_in_another_tenants_accounts_zone_is_refused(tmp_path):
    registry = walk_registry(tmp_path / "registry")
    _edit(registry / "anvil.yaml", hostname="anvil.delta.example")  # delta's zone, delta's account
    problems = _zone_problems(registry)
    assert len(problems) == 1 and problems[0].startswith("anvil.yaml")
    assert "delta.example is in account 456789012345" in problems[0]
