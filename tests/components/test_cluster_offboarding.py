"""TenantCluster of an offboarded dedicated tenant: released (deletable next), then data only.

Pulumi cannot delete in one update what it still protects, so the ``released`` cluster
differs from the serving one only in its EKS deletion protection, and the ``data`` one
declares what the tenant's data needs and nothing else. ``release_data`` (destroy-data
phase 1) lifts the keys' and log groups' protection.
"""

from __future__ import annotations

from collections import Counter

import pulumi
import pytest

from components.cluster import TenantCluster
from tenantctl.mock_engine import run_program
from tests.components.test_cluster import CASES, cluster_args


def run_mode(**overrides):
    refs: dict[str, object] = {}

    def program():
        ref = TenantCluster(CASES["dedicated"]["name"],
                            cluster_args("dedicated", autoscaling_role="declare", **overrides)).ref()
        refs.update(serving=ref.serving, provider=ref.provider)
        outputs = {"name": ref.name, "subnets": ref.private_subnet_ids}
        return pulumi.Output.from_input(outputs).apply(refs.update)
    run = run_program(program)
    run.outputs["ref"] = refs
    return run


@pytest.fixture(scope="module")
def data_only():
    return run_mode(mode="data")


def test_a_data_only_cluster_is_exactly_what_the_data_needs(data_only):
    counts = Counter(r.type for r in data_only.resources)
    assert counts == Counter({
        "tenant-platform:index:TenantCluster": 1, "aws:ec2/vpc:Vpc": 1,
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1, "aws:ec2/subnet:Subnet": 3,
        "aws:ec2/routeTable:RouteTable": 3, "aws:ec2/routeTableAssociation:RouteTableAssociation": 3,
        "aws:ec2/flowLog:FlowLog": 1, "aws:cloudwatch/logGroup:LogGroup": 2, "aws:kms/key:Key": 3,
        "aws:kms/alias:Alias": 3, "aws:iam/role:Role": 1, "aws:iam/rolePolicy:RolePolicy": 1,
        "aws:iam/serviceLinkedRole:ServiceLinkedRole": 1})
    # Private subnets only, and no route out of the VPC.
    assert all("private" in s.name for s in data_only.of_type("aws:ec2/subnet:Subnet"))
    roles = {r.inputs["name"] for r in data_only.of_type("aws:iam/role:Role")}
    assert roles == {"tp-prod-minato-bank-flow-logs"}


def test_a_data_only_cluster_keeps_its_keys_and_logs_protected(data_only):
    kept = [*data_only.of_type("aws:kms/key:Key"), *data_only.of_type("aws:cloudwatch/logGroup:LogGroup")]
    for res in kept:
        assert res.options["protect"] is True and res.options["retainOnDelete"] is True


def test_a_data_only_ref_serves_nothing(data_only):
    ref = data_only.outputs["ref"]
    assert ref["serving"] is False and ref["provider"] is None and ref["name"] == ""
    assert len(ref["subnets"]) == 3


def test_a_released_cluster_only_loses_its_deletion_protection():
    serving, released = run_mode(), run_mode(mode="released")
    assert Counter(r.type for r in serving.resources) == Counter(r.type for r in released.resources)
    [eks] = released.of_type("aws:eks/cluster:Cluster")
    assert eks.inputs["deletionProtection"] is False
    assert serving.of_type("aws:eks/cluster:Cluster")[0].inputs["deletionProtection"] is True


def test_released_data_is_neither_protected_nor_retained():
    run = run_mode(mode="data", release_data=True)
    for res in [*run.of_type("aws:kms/key:Key"), *run.of_type("aws:cloudwatch/logGroup:LogGroup")]:
        assert res.options["protect"] is False and res.options["retainOnDelete"] is False
    # The account's Auto Scaling role is left in place whatever happens to the stack.
    [role] = run.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert role.options["retainOnDelete"] is True
