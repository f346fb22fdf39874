"""The registry side of a migration: naming generations, placements, refused edits."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tenants import naming
from tenants.loader import load_registry
from tenants.problems import RegistryInvalid
from tenants.stacks import fleet_stacks
from tests.conftest import FIXTURE_FLEET

LONGEST = "a" + "b" * 28 + "c"


def test_generation_one_is_todays_names_and_later_ones_rename_what_would_collide():
    first, second = naming.TenantNames("acme", "prod"), naming.TenantNames("acme", "prod", 2)
    assert (first.files_bucket, first.kms_alias("db"), first.db_secret) == (
        "tp-prod-acme-files", "alias/tp/prod/acme/db", "tp/prod/acme/db")
    assert (second.files_bucket, second.access_log_bucket, second.kms_alias("db"), second.db_secret) == (
        "tp-prod-acme-files-g2", "tp-prod-acme-logs-g2", "alias/tp/prod/acme/g2/db", "tp/prod/acme/g2/db")
    assert second.cluster_names.kms_alias("secrets") == "alias/tp/prod/acme/g2/secrets"
    # What the platform's IAM patterns and the policy pack key on stays.
    assert second.db_secret.startswith("tp/prod/acme/")
    assert second.ecr_repository("chatbot") == first.ecr_repository("chatbot")


def test_a_generation_never_names_another_tenants_resource():
    """``acme`` generation 2 against every tenant whose id could spell the same name."""
    def named(n: naming.TenantNames) -> set[str]:
        return {n.files_bucket, n.access_log_bucket, n.db_secret, n.kms_alias("db"), n.kms_alias("files")}
    ours = named(naming.TenantNames("acme", "prod", 2))
    for other in ("acme-g2", "acme-files", "acme-files-g2", "acme-logs", "acme-g2-db"):
        for generation in (1, 2, 3):
            assert ours.isdisjoint(named(naming.TenantNames(other, "prod", generation))), (other, generation)


@pytest.mark.parametrize("generation", [2, 99])
def test_the_longest_id_fits_every_limit_in_later_generations(generation):
    names = naming.TenantNames(LONGEST, "staging1", generation)
    assert len(names.files_bucket) <= 63 and len(names.kms_alias("nodes")) <= 256
    with pytest.raises(naming.NameError_):
        naming.TenantNames("acme", "prod", 0)


@pytest.fixture
def registry(tmp_path):
    target = tmp_path / "registry"
    shutil.copytree(FIXTURE_FLEET, target)
    return target


def _edit(path, **fields):
    data = yaml.safe_load(path.read_text())
    data.update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_dedicated_tenant_edited_into_a_cell_is_refused_pointing_at_migrate(registry):
    data = yaml.safe_load((registry / "delta.yaml").read_text())
    data.pop("account")
    data["tier"] = "namespace"
    (registry / "delta.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(RegistryInvalid) as err:
        load_registry(registry)
    assert any("own VPC 10.128.0.0/18" in p.message and "tenantctl migrate delta --to namespace" in p.message
               for p in err.value.problems)


def test_a_recorded_migration_puts_the_tenant_in_both_stacks_the_source_serving_until_the_switch(registry):
    _edit(registry / "alpha.yaml", tier="cluster", account="567890123456", generation=2,
          migration={"source": {"tier": "namespace", "cell": "f1"}, "state": "moving"})
    (registry / "_platform.yaml").write_text("\n".join(
        line for line in (registry / "_platform.yaml").read_text().splitlines()
        if "hosted_zones" not in line and "zone_id" not in line))
    stacks = {s.name: s for s in fleet_stacks(load_registry(registry))}
    source = next(t for t in stacks["shared-f1"].tenants if t.id == "alpha")
    target = stacks["tenant-alpha"].tenants[0]
    assert (source.tier, source.record.lifecycle.active, source.serving, source.record.generation) == (
        "namespace", True, True, 1)
    assert (target.tier, target.serving, target.record.generation) == ("cluster", False, 2)
    source_placement = {"tier": "namespace", "cell": "f1"}
    _edit(registry / "alpha.yaml", migration={"source": source_placement, "state": "switched"})
    stacks = {s.name: s for s in fleet_stacks(load_registry(registry))}
    source = next(t for t in stacks["shared-f1"].tenants if t.id == "alpha")
    assert (source.record.lifecycle.active, source.serving) == (False, False)
    assert stacks["tenant-alpha"].tenants[0].serving


@pytest.mark.parametrize(("fields", "message"), [
    ({"kept": [{"tier": "namespace", "cell": "f1"}]}, "stack shared-f1, which already declares"),
    ({"tier": "cluster", "account": "567890123456",
      "migration": {"source": {"tier": "namespace", "cell": "f1"}}}, "is not above the generation 1"),
    ({"kept": [{"tier": "node", "cell": "gone"}], "generation": 2}, "unknown cell"),
], ids=["same-stack", "generation-not-raised", "unknown-cell"])
def test_placements_no_stack_can_declare_are_refused(registry, fields, message):
    _edit(registry / "alpha.yaml", **fields)
    with pytest.raises(RegistryInvalid) as err:
        load_registry(registry)
    assert any(message in p.message for p in err.value.problems), err.value.problems
