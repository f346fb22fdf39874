"""A cell is deployable at its full capacity (issue 12.4): no AWS quota is reached first.

Each tenant used to add an inline policy to the cell's one RDS Proxy role; IAM allows a
role 10,240 characters of inline policy in all (whitespace not counted), which a cell
reached at about its 19th tenant. Now the proxy role has one tag-scoped policy. Proven
two ways, both offline:

- the cell's database layer (``CellDatabase`` and a ``TenantDatabase`` per tenant, the
  real components under the recording mock engine) at :data:`MAX_CELL_CAPACITY` tenants:
  the proxy's auths stay within RDS Proxy's secrets quota and every role's inline
  policies and every managed policy within IAM's;
- the whole program for a generated registry, at two sizes (2 and 6 tenants): each
  cell-level role's inline policies, projected from their per-tenant growth to a full
  cell, stay under the quota, and a tenant's roles do not depend on its neighbours.
  Planning the whole program for 200 tenants takes many minutes here (the mock plan grows
  faster than linearly), so the per-tenant growth, which is what a breach needs, is
  measured instead.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.database import CellDatabase, CellDatabaseArgs, TenantDatabase, TenantDatabaseArgs
from tenantctl import planner
from tenantctl.mock_engine import run_program
from tenants import aws_limits
from tenants.aws_limits import (
    IAM_MANAGED_POLICY_MAX_CHARS,
    IAM_ROLE_INLINE_POLICY_MAX_CHARS,
    MAX_CELL_CAPACITY,
    RDS_PROXY_MAX_SECRETS,
    compact_policy_size,
)
from tenants.loader import load_registry
from tenants.naming import CellNames
from tenants.plans import load_plans
from tenants.stacks import fleet_stacks
from tests.conftest import run_cli
from tests.factories import make_cluster_ref, make_context

FIXTURE_PLATFORM = Path(__file__).resolve().parents[1] / "fixtures" / "fleet" / "_platform.yaml"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
MANAGED_POLICY = "aws:iam/policy:Policy"
PROXY = "aws:rds/proxy:Proxy"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def inline_policy_sizes(resources: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Role name -> the aggregate size IAM counts of its inline policies (both ways of
    declaring them: ``RolePolicy`` resources and a role's ``inlinePolicies``)."""
    sizes: dict[str, int] = defaultdict(int)
    for r in resources:
        inputs = r["inputs"]
        if r["type"] == ROLE_POLICY:
            sizes[str(inputs["role"])] += compact_policy_size(_text(inputs["policy"]))
        elif r["type"] == ROLE:
            sizes[str(inputs.get("name"))] += sum(compact_policy_size(_text(p.get("policy", "")))
                                                  for p in inputs.get("inlinePolicies") or [])
    return dict(sizes)


def managed_policy_sizes(resources: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    return {str(r["inputs"].get("name")): compact_policy_size(_text(r["inputs"]["policy"]))
            for r in resources if r["type"] == MANAGED_POLICY}


def test_compact_size_is_what_iam_counts() -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                        "Resource": "arn:aws:s3:::b/a key"}]}
    pretty, tight = json.dumps(document, indent=4), json.dumps(document, separators=(",", ":"))
    assert compact_policy_size(pretty) == compact_policy_size(tight) == len(tight) - 1  # the space in "a key"


# --- validate refuses a cell larger than one cell can hold ----------------------------------
@pytest.mark.parametrize(("platform", "field", "value"), [
    ({"cell_capacity": MAX_CELL_CAPACITY + 1}, "cell_capacity", MAX_CELL_CAPACITY + 1),
    ({"cell_capacity": 50, "cell_extra": {"capacity": 500}}, "cells.0.capacity", 500),
], ids=["platform-default", "one-cell"])
def test_validate_refuses_a_capacity_above_the_quota(tmp_path: Path, platform: dict[str, Any], field: str,
                                                     value: int) -> None:
    registry = generated_cell(tmp_path / "registry", 2)
    document = yaml.safe_load((registry / "_platform.yaml").read_text())
    document["cell_capacity"] = platform["cell_capacity"]
    document["cells"][0].update(platform.get("cell_extra", {}))
    (registry / "_platform.yaml").write_text(yaml.safe_dump(document))
    result = run_cli("validate", "--registry", str(registry))
    assert result.code == 2
    (line,) = [line for line in (result.out + result.err).splitlines() if "_platform.yaml" in line]
    assert line.startswith(f"_platform.yaml: {field}: ") and f"(got {value})" in line
    assert f"at most {MAX_CELL_CAPACITY} tenants" in line and f"at most {RDS_PROXY_MAX_SECRETS}" in line


def test_validate_accepts_a_cell_at_the_quota(tmp_path: Path) -> None:
    registry = generated_cell(tmp_path / "registry", 2)
    document = yaml.safe_load((registry / "_platform.yaml").read_text())
    document["cells"][0]["capacity"] = MAX_CELL_CAPACITY
    (registry / "_platform.yaml").write_text(yaml.safe_dump(document))
    result = run_cli("validate", "--registry", str(registry))
    assert result.code == 0, result.out + result.err


# --- the database layer at full capacity ---------------------------------------------------
CELL = CellNames("full", "prod")


def full_cell_program(tenants: int) -> None:
    plans = load_plans()
    cluster = make_cluster_ref(runner_security_group_ids=("sg-runner",))
    ids = [f"tenant-{i:04d}" for i in range(tenants)]
    cell = CellDatabase("cell-db", CellDatabaseArgs(names=CELL, cluster=cluster,
                                                    size=plans["enterprise"].database, tenant_ids=ids))
    for i, tenant in enumerate(ids):
        TenantDatabase(f"{tenant}-db", TenantDatabaseArgs(
            ctx=make_context(tenant, plan=("starter", "standard", "enterprise")[i % 3]), cluster=cluster,
            mode="schema", cell=cell.ref,
            workload_role_names=[f"tp-prod-{tenant}-fileserver", f"tp-prod-{tenant}-chatbot"]))


@pytest.fixture(scope="module")
def full_cell() -> list[dict[str, Any]]:
    run = run_program(lambda: full_cell_program(MAX_CELL_CAPACITY))
    return [r.as_plan() for r in run.resources]


def test_the_cell_capacity_limit_is_the_proxy_secrets_quota() -> None:
    assert MAX_CELL_CAPACITY == RDS_PROXY_MAX_SECRETS == 200
    assert aws_limits.IAM_ROLE_INLINE_POLICY_MAX_CHARS == 10_240


def test_full_cell_proxy_has_one_auth_per_tenant_within_the_quota(full_cell: list[dict[str, Any]]) -> None:
    (proxy,) = [r for r in full_cell if r["type"] == PROXY]
    auths = proxy["inputs"]["auths"]
    assert len(auths) == MAX_CELL_CAPACITY <= RDS_PROXY_MAX_SECRETS
    assert len({a["secretArn"] for a in auths}) == len(auths)  # one secret per tenant, none shared


def test_full_cell_roles_and_policies_stay_within_iam_quotas(full_cell: list[dict[str, Any]]) -> None:
    inline = inline_policy_sizes(full_cell)
    proxy_role = f"{CELL.db_identifier}-proxy"
    assert inline[proxy_role] < IAM_ROLE_INLINE_POLICY_MAX_CHARS // 10  # one fixed policy, not 200
    assert [r for r in full_cell if r["type"] == ROLE_POLICY and r["inputs"]["role"] == proxy_role] != []
    over = {role: size for role, size in inline.items() if size >= IAM_ROLE_INLINE_POLICY_MAX_CHARS}
    assert over == {}
    managed = managed_policy_sizes(full_cell)
    assert len(managed) == MAX_CELL_CAPACITY  # each tenant's connect policy
    assert max(managed.values()) < IAM_MANAGED_POLICY_MAX_CHARS


def test_the_old_design_would_have_broken_the_quota_within_the_cell(full_cell: list[dict[str, Any]]) -> None:
    """Control: one secret+key statement pair per tenant (the old inline policy) times the
    cell's tenants is far over the quota, so the measurement above is meaningful."""
    per_tenant = compact_policy_size(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadTenantDatabaseSecret", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:tp/prod/t-0000/db-AbCdEf"},
        {"Sid": "DecryptTenantSecretThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
         "Resource": "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
         "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.ap-northeast-1.amazonaws.com"}}}]}))
    assert per_tenant * 20 > IAM_ROLE_INLINE_POLICY_MAX_CHARS > per_tenant * 18


# --- the whole program: nothing grows per tenant --------------------------------------------
TIERS = ("namespace", "node", "vcluster", "namespace")
PLANS = ("starter", "standard", "enterprise")


def generated_cell(directory: Path, tenants: int) -> Path:
    """A registry with one cell holding ``tenants`` tenants, at its capacity."""
    sample = yaml.safe_load(FIXTURE_PLATFORM.read_text())
    platform = {"cell_capacity": tenants, "domain": sample["domain"],
                "cells": [{"name": "full", "region": "ap-northeast-1", "vpc_cidr": "10.0.0.0/16"}],
                "images": sample["images"], "deploy_runners": sample["deploy_runners"]}
    directory.mkdir(parents=True)
    (directory / "_platform.yaml").write_text(yaml.safe_dump(platform))
    for i in range(tenants):
        tenant_id = f"full-{i:03d}"
        (directory / f"{tenant_id}.yaml").write_text(yaml.safe_dump(
            {"id": tenant_id, "tier": TIERS[i % len(TIERS)], "plan": PLANS[i % len(PLANS)]}))
    return directory


def plan_cell(directory: Path) -> list[dict[str, Any]]:
    (stack,) = fleet_stacks(load_registry(directory))
    (plan,) = planner.plan_stacks([stack], policies=False)
    return plan.resources


@pytest.fixture(scope="module")
def small_and_larger(
        tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("cells")
    return plan_cell(generated_cell(root / "two", 2)), plan_cell(generated_cell(root / "six", 6))


def _tenant_tagged_roles(resources: list[dict[str, Any]]) -> set[str]:
    return {str(r["inputs"]["name"]) for r in resources
            if r["type"] == ROLE and (r["inputs"].get("tags") or {}).get("tenant")}


#: Cell-level roles whose policies list every tenant's host name: they are split over an
#: inline and managed policies by ``platform_addons.split_by_hosts`` (tested at full
#: capacity in test_platform_addons.py), so their inline part never grows past the quota
#: and a linear projection of it would be wrong.
SPLIT_ROLES = {"tp-prod-cell-full-external-dns", "tp-prod-cell-full-cert-manager"}


def projected_sizes(small_and_larger: tuple[list[dict[str, Any]], list[dict[str, Any]]],
                    capacity: int) -> dict[str, tuple[int, int, float]]:
    """Cell-level role -> (size with 2 tenants, with 6, projected at ``capacity``)."""
    small, larger = small_and_larger
    two, six = inline_policy_sizes(small), inline_policy_sizes(larger)
    cell_roles = set(two) - _tenant_tagged_roles(small)
    return {role: (two[role], six[role], two[role] + (six[role] - two[role]) / 4 * (capacity - 2))
            for role in cell_roles}


def test_no_cell_role_reaches_the_inline_policy_quota_at_full_capacity(
        small_and_larger: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    projected = projected_sizes(small_and_larger, MAX_CELL_CAPACITY)
    assert f"{CELL.db_identifier}-proxy" in projected
    proxy = projected[f"{CELL.db_identifier}-proxy"]
    assert proxy[0] == proxy[1]  # the proxy role does not grow at all
    over = {role: sizes for role, sizes in projected.items()
            if sizes[2] >= IAM_ROLE_INLINE_POLICY_MAX_CHARS and role not in SPLIT_ROLES}
    assert over == {}


def test_the_split_roles_are_the_ones_that_grow(
        small_and_larger: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    """Only the host-listing roles grow with the cell (so only they need splitting)."""
    projected = projected_sizes(small_and_larger, MAX_CELL_CAPACITY)
    assert {role for role, sizes in projected.items() if sizes[1] > sizes[0]} == SPLIT_ROLES


def test_tenant_roles_do_not_depend_on_their_neighbours(
        small_and_larger: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    small, larger = small_and_larger
    two, six = inline_policy_sizes(small), inline_policy_sizes(larger)
    tenant_roles = set(two) & _tenant_tagged_roles(small)
    assert tenant_roles and {role: (two[role], six[role]) for role in tenant_roles
                             if six[role] != two[role]} == {}
    assert max(six.values()) < IAM_ROLE_INLINE_POLICY_MAX_CHARS
    assert max(managed_policy_sizes(larger).values()) < IAM_MANAGED_POLICY_MAX_CHARS


def test_generated_cell_proxy_counts_one_auth_per_tenant(
        small_and_larger: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    for resources, tenants in zip(small_and_larger, (2, 6), strict=True):
        (proxy,) = [r for r in resources if r["type"] == PROXY]
        assert len(proxy["inputs"]["auths"]) == tenants
