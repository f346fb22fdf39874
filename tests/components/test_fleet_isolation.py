"""Dedicated tenants are isolated from each other and from the cells, in the real program.

Runs ``components.program.build_stack`` for every stack of the sample fleet, and of
generated fleets (Hypothesis), under the recording mock, and reads back each dedicated
stack's *footprint*: the things that must belong to one tenant only (VPC CIDR, EKS
cluster, OIDC issuer, KMS keys and aliases, IAM roles, launch templates, log groups).

- Two dedicated tenants never share any of them, and their VPCs never overlap.
- A dedicated stack references no key or role but its own (and the pre-existing platform
  admin role and AWS service-linked roles), and tags every AWS resource with its tenant.
- No shared stack holds anything of a dedicated tenant.
- Each dedicated stack is complete: networking, cluster, add-ons, and the tenant's own
  components (the same ones a cell uses).
"""

from __future__ import annotations

import ipaddress
import json
import re
import tempfile
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.program import build_stack
from tenantctl.mock_engine import ProgramRun, run_program
from tenants.loader import Registry, load_registry
from tenants.naming import RESERVED_TENANT_IDS, TENANT_ID_RE, TenantNames, deploy_role, platform_admin_role
from tenants.stacks import StackSpec, fleet_stacks
from tests.factories import TEST_IMAGES

FOOTPRINT = {
    "vpc cidr": ("aws:ec2/vpc:Vpc", lambda r: r.inputs["cidrBlock"]),
    "eks cluster": ("aws:eks/cluster:Cluster", lambda r: r.inputs["name"]),
    "oidc issuer": ("aws:iam/openIdConnectProvider:OpenIdConnectProvider", lambda r: r.inputs["url"]),
    "kms key": ("aws:kms/key:Key", lambda r: r.outputs["arn"]),
    "kms alias": ("aws:kms/alias:Alias", lambda r: r.inputs["name"]),
    "iam role": ("aws:iam/role:Role", lambda r: r.inputs["name"]),
    "launch template": ("aws:ec2/launchTemplate:LaunchTemplate", lambda r: r.inputs["name"]),
    "log group": ("aws:cloudwatch/logGroup:LogGroup", lambda r: r.inputs["name"]),
    "rds instance": ("aws:rds/instance:Instance", lambda r: r.inputs["identifier"]),
    "rds proxy": ("aws:rds/proxy:Proxy", lambda r: r.inputs["name"]),
    "secret": ("aws:secretsmanager/secret:Secret", lambda r: r.inputs["name"]),
}
KEY_ARN = re.compile(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9_.-]+")
ROLE_ARN = re.compile(r"arn:aws:iam::\d{12}:role/[A-Za-z0-9_./+=,@-]+")
#: Components every dedicated stack must hold.
COMPLETE = ("tenant-platform:index:TenantCluster", "tenant-platform:index:PlatformAddons",
            "tenant-platform:index:TenantNamespace", "tenant-platform:index:TenantDatabase",
            "tenant-platform:index:DatabaseServer", "tenant-platform:index:FileServerStack",
            "tenant-platform:index:TenantMonitoring")
#: What a dedicated stack holds exactly once: its own network, cluster and database.
NETWORK = {"aws:ec2/vpc:Vpc": 1, "aws:ec2/subnet:Subnet": 6, "aws:ec2/natGateway:NatGateway": 3,
           "aws:ec2/flowLog:FlowLog": 1, "aws:eks/cluster:Cluster": 1, "aws:eks/nodeGroup:NodeGroup": 2,
           "aws:eks/addon:Addon": 4, "aws:rds/instance:Instance": 1, "aws:rds/proxy:Proxy": 1,
           "aws:secretsmanager/secretRotation:SecretRotation": 1,
           "tenant-platform:index:CellDatabase": 0}


def footprint(run: ProgramRun) -> dict[str, set[str]]:
    """What a stack's own infrastructure is made of, by kind."""
    return {kind: {value(r) for r in run.of_type(type_)} for kind, (type_, value) in FOOTPRINT.items()}


def run_stacks(specs: Iterable[StackSpec]) -> dict[str, ProgramRun]:
    return {s.name: run_program(lambda s=s: build_stack(s), stack=s.name) for s in specs}


def dedicated(specs: Iterable[StackSpec]) -> list[StackSpec]:
    return [s for s in specs if s.kind == "dedicated"]


# --- the properties, over any fleet ----------------------------------------------------------
def assert_no_two_dedicated_tenants_share(specs: list[StackSpec], runs: dict[str, ProgramRun]) -> None:
    prints = {s.tenants[0].id: footprint(runs[s.name]) for s in dedicated(specs)}
    for tenant_id, prints_of in prints.items():
        assert all(prints_of[kind] for kind in FOOTPRINT), (tenant_id, prints_of)
        assert len(prints_of["vpc cidr"]) == len(prints_of["eks cluster"]) == 1
    for (a, pa), (b, pb) in combinations(sorted(prints.items()), 2):
        for kind in FOOTPRINT:
            assert not pa[kind] & pb[kind], f"{a} and {b} share {kind}: {pa[kind] & pb[kind]}"
        [net_a], [net_b] = pa["vpc cidr"], pb["vpc cidr"]
        assert not ipaddress.IPv4Network(net_a).overlaps(ipaddress.IPv4Network(net_b)), (a, b)


def assert_dedicated_stacks_use_only_their_own(specs: list[StackSpec], runs: dict[str, ProgramRun]) -> None:
    for spec in dedicated(specs):
        tenant, run = spec.tenants[0], runs[spec.name]
        names = TenantNames(tenant.id, spec.environment)
        own = footprint(run)
        assert own["vpc cidr"] == {tenant.network_cidr}
        assert own["eks cluster"] == {names.cluster}
        alias_root = f"alias/tp/{spec.environment}/{tenant.id}/"
        assert all(alias.startswith(alias_root) for alias in own["kms alias"])
        assert all(role.startswith(f"{names.prefix}-") for role in own["iam role"])
        text = json.dumps([r.inputs for r in run.resources])
        assert set(KEY_ARN.findall(text)) <= own["kms key"]
        foreign_roles = {arn.rsplit("/", 1)[-1] for arn in ROLE_ARN.findall(text)
                         if "/aws-service-role/" not in arn} - own["iam role"]
        assert foreign_roles <= {platform_admin_role(spec.environment), deploy_role(spec.environment)}, \
            foreign_roles
        # Every role it names is in the tenant's own account, where its stack deploys.
        accounts = {arn.split(":")[4] for arn in ROLE_ARN.findall(text)}
        assert spec.account is not None and accounts == {spec.account}, accounts
        tagged = [r for r in run.resources
                  if r.type.startswith("aws:") and isinstance(r.inputs.get("tags"), dict)]
        assert tagged and all(r.inputs["tags"].get("tenant") == tenant.id for r in tagged), [
            r.name for r in tagged if r.inputs["tags"].get("tenant") != tenant.id]


def assert_no_dedicated_tenant_in_shared_stacks(specs: list[StackSpec], runs: dict[str, ProgramRun]) -> None:
    for spec in dedicated(specs):
        tenant = spec.tenants[0]
        names = TenantNames(tenant.id, spec.environment)
        marks = [names.prefix, names.namespace, f"alias/tp/{spec.environment}/{tenant.id}/", tenant.hostname,
                 tenant.network_cidr or "?"]
        for shared in (s for s in specs if s.kind == "shared"):
            assert tenant.id not in {t.id for t in shared.tenants}
            run = runs[shared.name]
            text = json.dumps([[r.name, r.inputs] for r in run.resources])
            found = [m for m in marks if re.search(r"(?<![a-z0-9-])" + re.escape(m) + r"(?![a-z0-9-])", text)]
            assert not found, (shared.name, tenant.id, found)
            owners = {(r.inputs.get("tags") or {}).get("tenant") for r in run.resources
                      if isinstance(r.inputs.get("tags"), dict)}
            assert tenant.id not in owners


def assert_dedicated_stacks_complete(specs: list[StackSpec], runs: dict[str, ProgramRun]) -> None:
    for spec in dedicated(specs):
        run, tenant = runs[spec.name], spec.tenants[0]
        for type_, count in NETWORK.items():
            assert len(run.of_type(type_)) == count, (spec.name, type_)
        for type_ in COMPLETE:
            assert run.of_type(type_), (spec.name, type_)
        [instance] = run.of_type("aws:rds/instance:Instance")
        assert instance.inputs["identifier"] == TenantNames(tenant.id, spec.environment).db_identifier
        [namespace] = [r for r in run.of_type("kubernetes:core/v1:Namespace")
                       if r.inputs["metadata"]["name"] == TenantNames(tenant.id, spec.environment).namespace]
        # The tenant's objects go through the add-ons' provider of this stack's own cluster.
        [addons_provider] = [r for r in run.of_type("pulumi:providers:kubernetes")
                             if r.name.endswith("-tenants-k8s")]
        assert namespace.options["provider"] == addons_provider.urn


# --- a fixed fleet with several dedicated tenants (tests/fixtures/rollout) ------------------------
SAMPLE = fleet_stacks(load_registry(Path(__file__).resolve().parents[1] / "fixtures" / "rollout"))


@pytest.fixture(scope="module")
def sample_runs():
    return run_stacks(SAMPLE)


def test_sample_fleet_has_dedicated_tenants_to_compare():
    assert len(dedicated(SAMPLE)) >= 2 and any(s.kind == "shared" and s.tenants for s in SAMPLE)


def test_no_two_dedicated_tenants_share_a_cidr_key_role_or_cluster(sample_runs):
    assert_no_two_dedicated_tenants_share(SAMPLE, sample_runs)


def test_dedicated_stacks_reference_only_their_own_keys_and_roles(sample_runs):
    assert_dedicated_stacks_use_only_their_own(SAMPLE, sample_runs)


def test_no_shared_stack_holds_anything_of_a_dedicated_tenant(sample_runs):
    assert_no_dedicated_tenant_in_shared_stacks(SAMPLE, sample_runs)


def test_each_dedicated_stack_is_complete(sample_runs):
    assert_dedicated_stacks_complete(SAMPLE, sample_runs)


def test_the_checks_catch_a_shared_key():
    """The footprint comparison is not vacuous: two stacks with the same key are caught."""
    [a, b] = dedicated(SAMPLE)[:2]
    run = run_stacks([a])[a.name]
    with pytest.raises(AssertionError, match="share"):
        assert_no_two_dedicated_tenants_share([a, b], {a.name: run, b.name: run})


# --- generated fleets ---------------------------------------------------------------------
tenant_ids = st.from_regex(r"[a-z][a-z0-9]{2,12}", fullmatch=True).filter(
    lambda i: TENANT_ID_RE.match(i) is not None and i not in RESERVED_TENANT_IDS)


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, object]:
    ids = draw(st.lists(tenant_ids, min_size=3, max_size=4, unique=True))
    plans = st.sampled_from(["starter", "standard", "enterprise"])
    dedicated_ids, shared_id = ids[:-1], ids[-1]
    explicit = draw(st.lists(st.booleans(), min_size=len(dedicated_ids), max_size=len(dedicated_ids)))
    blocks = iter(ipaddress.IPv4Network("10.64.0.0/12").subnets(new_prefix=18))
    # Each dedicated tenant in its own account (the registry requires one).
    records = [{"id": i, "tier": "cluster", "plan": draw(plans), "account": f"{700000000000 + n}",
                **({"network_cidr": str(next(blocks))} if pin else {})}
               for n, (i, pin) in enumerate(zip(dedicated_ids, explicit, strict=True))]
    records.append({"id": shared_id, "tier": draw(st.sampled_from(["namespace", "node"])),
                    "plan": draw(plans)})
    platform = {"cells": [{"name": "gen-01", "region": "ap-northeast-1", "vpc_cidr": "10.0.0.0/16"}],
                "images": dict(TEST_IMAGES),
                "dedicated_cidr_pool": "10.128.0.0/9", "dedicated_prefix": draw(st.integers(16, 20))}
    return {"platform": platform, "records": records}


def load(fleet: dict[str, object], directory: Path) -> Registry:
    (directory / "_platform.yaml").write_text(yaml.safe_dump(fleet["platform"]))
    for record in fleet["records"]:  # type: ignore[attr-defined]
        (directory / f"{record['id']}.yaml").write_text(yaml.safe_dump(record))
    return load_registry(directory)


@given(fleets())
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_fleets_keep_dedicated_tenants_apart(fleet):
    with tempfile.TemporaryDirectory() as tmp:
        specs = fleet_stacks(load(fleet, Path(tmp)))
    assert len(dedicated(specs)) == len(fleet["records"]) - 1
    runs = run_stacks(specs)
    assert_no_two_dedicated_tenants_share(specs, runs)
    assert_dedicated_stacks_use_only_their_own(specs, runs)
    assert_no_dedicated_tenant_in_shared_stacks(specs, runs)
    assert_dedicated_stacks_complete(specs, runs)
