"""Issue 12.6: the volume keys name EC2 Auto Scaling's service-linked role, which must exist first.

KMS rejects a key policy naming a principal that does not exist, and
``AWSServiceRoleForAutoScaling`` exists only once something created it. One stack per
account declares it (``TenantClusterArgs.autoscaling_role="declare"``: a dedicated
tenant's own account) and its volumes key waits for it; in the platform account, which
several cells share, the account bootstrap creates it (two stacks declaring it collide).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from components import iam_documents as docs
from components.cluster import TenantCluster
from policy import iam
from tenantctl.mock_engine import run_program
from tests.components.test_cluster import CASES, cluster_args
from tests.factories import ACCOUNT_ID

SLR = "aws:iam/serviceLinkedRole:ServiceLinkedRole"


def run(case: str, autoscaling_role: str):
    def program():
        TenantCluster(CASES[case]["name"], dataclasses.replace(
            cluster_args(case), autoscaling_role=autoscaling_role))
    return run_program(program)


@pytest.fixture(scope="module")
def declared():
    return run("dedicated", "declare")


def test_the_owning_stack_declares_the_role_and_keeps_it_on_delete(declared):
    [role] = declared.of_type(SLR)
    assert role.inputs["awsServiceName"] == "autoscaling.amazonaws.com"
    assert role.options["retainOnDelete"] is True


def test_the_volumes_key_waits_for_the_role(declared):
    [role] = declared.of_type(SLR)
    key = declared.named(f"{CASES['dedicated']['name']}-volumes-key")
    assert role.urn in key.options["dependsOn"]
    assert role.urn in key.options["propertyDependencies"]["policy"]
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["AutoScalingUsesKeyForVolumes"]["Principal"] == {
        "AWS": docs.autoscaling_role_arn("aws", ACCOUNT_ID)}
    # Only the volumes key names the role: the others do not wait for it.
    for purpose in ("eks", "logs"):
        other = declared.named(f"{CASES['dedicated']['name']}-{purpose}-key")
        assert role.urn not in other.options["dependsOn"]


def test_key_policies_grant_nothing_account_wide(declared):
    for key in declared.of_type("aws:kms/key:Key"):
        assert iam.open_grants(key.inputs["policy"], kms=True) == [], key.name


def test_bootstrap_accounts_declare_no_role():
    assert run("cell", "bootstrap").of_type(SLR) == []
