"""TenantNodePool: a hardened node group only its tenant's pods can use."""

from __future__ import annotations

import json

import parliament
import pytest

from components import scheduling
from components.cluster import volume_key_policy
from components.node_pool import TenantNodePool, TenantNodePoolArgs, eks_taint
from tenantctl.mock_engine import run_program
from tenants.plans import load_plans
from tests.factories import ACCOUNT_ID, make_cluster_ref, make_context

PLANS = sorted(load_plans())


def run_pool(plan="standard", tier="node", dedicated_pools=True):
    def program():
        cluster = make_cluster_ref(dedicated_pools=dedicated_pools)
        TenantNodePool("orbit-pool", TenantNodePoolArgs(ctx=make_context("orbit", tier=tier, plan=plan),
                                                        cluster=cluster))
    return run_program(program)


def test_pool_declares_exactly_its_hardened_parts():
    run = run_pool()
    assert sorted((r.type, r.name) for r in run.children_of(run.named("orbit-pool").urn)) == sorted([
        ("aws:kms/key:Key", "orbit-pool-volume-key"),
        ("aws:kms/alias:Alias", "orbit-pool-volume-key-alias"),
        ("aws:iam/role:Role", "orbit-pool-role"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "orbit-pool-role-AmazonEKSWorkerNodePolicy"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
         "orbit-pool-role-AmazonEC2ContainerRegistryPullOnly"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "orbit-pool-role-AmazonSSMManagedInstanceCore"),
        ("tenant-platform:index:NodePool", "orbit-pool-nodes"),
    ])
    assert sorted((r.type, r.name) for r in run.children_of(run.named("orbit-pool-nodes").urn)) == [
        ("aws:ec2/launchTemplate:LaunchTemplate", "orbit-pool-nodes-launch-template"),
        ("aws:eks/nodeGroup:NodeGroup", "orbit-pool-nodes-node-group"),
    ]
    assert len(run.resources) == 7 + 2 + 1 + 1  # children, the NodePool's two, the component, provider


@pytest.mark.parametrize("plan", PLANS)
def test_node_group_is_labelled_tainted_and_sized_by_the_plan(plan):
    run = run_pool(plan)
    group = run.named("orbit-pool-nodes-node-group").inputs
    size = load_plans()[plan].node_pool
    assert group["nodeGroupName"] == "tenant-orbit"
    assert group["clusterName"] == "tp-prod-cell-apne1-01"
    assert group["labels"] == {"tenant": "orbit"}
    assert group["taints"] == [{"key": "tenant", "value": "orbit", "effect": "NO_SCHEDULE"}]
    assert group["scalingConfig"] == {"minSize": size.min_size, "maxSize": size.max_size,
                                      "desiredSize": size.min_size}
    assert group["instanceTypes"] == list(size.instance_types)
    assert group["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert group["version"] == "1.33" and group["amiType"] == "AL2023_x86_64_STANDARD"
    assert "remoteAccess" not in group and "diskSize" not in group
    assert group["tags"]["tenant"] == "orbit" and group["tags"]["tier"] == "node"
    template = run.named("orbit-pool-nodes-launch-template")
    assert group["launchTemplate"] == {"id": template.id, "version": "1"}
    assert template.inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"] == size.disk_gib


def test_node_group_waits_for_its_role_policies_and_leaves_size_to_the_autoscaler():
    run = run_pool()
    group = run.named("orbit-pool-nodes-node-group")
    attachments = {r.urn for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments <= set(group.options["dependsOn"])
    assert group.options["ignoreChanges"] == ["scalingConfig.desiredSize"]


def test_launch_template_requires_imdsv2_with_hop_limit_one_and_encrypts_with_the_tenant_key():
    run = run_pool()
    template = run.named("orbit-pool-nodes-launch-template").inputs
    assert template["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                           "httpPutResponseHopLimit": 1, "instanceMetadataTags": "disabled"}
    [disk] = template["blockDeviceMappings"]
    key = run.named("orbit-pool-volume-key")
    assert disk["deviceName"] == "/dev/xvda"
    assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["kmsKeyId"] == key.outputs["arn"]
    assert "keyName" not in template and "networkInterfaces" not in template and "userData" not in template
    assert {t["resourceType"] for t in template["tagSpecifications"]} == {"instance", "volume",
                                                                         "network-interface"}


def test_volume_key_is_the_tenants_own_rotated_and_has_no_wildcard_principal():
    run = run_pool()
    key = run.named("orbit-pool-volume-key")
    assert key.inputs["enableKeyRotation"] is True
    assert run.named("orbit-pool-volume-key-alias").inputs["name"] == "alias/tp/prod/orbit/nodes"
    policy = json.loads(key.inputs["policy"])
    assert policy == volume_key_policy(
        ACCOUNT_ID, admin_role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/tp-prod-platform-admin")
    for statement in policy["Statement"]:
        assert statement["Principal"] != "*" and "*" not in statement["Principal"]["AWS"]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert parliament.expand_action(action), action


def test_volume_key_follows_the_pool_unprotected_and_deleted_after_its_nodes_30_days_later():
    run = run_pool()
    key = run.named("orbit-pool-volume-key")
    # It encrypts only the nodes' root volumes, which go with their nodes: not data.
    assert (key.options["protect"], key.options["retainOnDelete"]) == (False, False)
    assert key.inputs["deletionWindowInDays"] == 30  # KMS's longest (7..30)
    [disk] = run.named("orbit-pool-nodes-launch-template").inputs["blockDeviceMappings"]
    assert disk["ebs"]["deleteOnTermination"] == "true"
    # Pulumi deletes in reverse dependency order: the node group (through its launch
    # template, which names the key) goes before the key.
    template, group = (run.named(f"orbit-pool-nodes-{n}") for n in ("launch-template", "node-group"))
    assert key.urn in template.options["dependsOn"] and template.urn in group.options["dependsOn"]


def test_a_retired_tenant_has_no_pool():
    def program():
        ctx = make_context("orbit", tier="node", lifecycle={"state": "offboarded",
                                                           "offboarded_on": "2026-12-01"})
        TenantNodePool("orbit-pool", TenantNodePoolArgs(ctx=ctx, cluster=make_cluster_ref()))
    with pytest.raises(ValueError, match="'orbit' is retired: it runs nothing, so it has no node pool"):
        run_program(program)


def test_node_role_is_minimal_and_trusts_ec2_only():
    run = run_pool()
    role = run.named("orbit-pool-role").inputs
    assert role["name"] == "tp-prod-orbit-node"
    assert json.loads(role["assumeRolePolicy"])["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    policies = sorted(r.inputs["policyArn"] for r in run.of_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    assert policies == ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
                        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]


def test_the_tenants_pods_tolerate_exactly_the_pools_taint():
    ctx = make_context("orbit", tier="node")
    [toleration] = scheduling.pod_placement(ctx)["tolerations"]
    taint = eks_taint("orbit")
    assert (toleration["key"], toleration["value"]) == (taint["key"], taint["value"])
    assert {"NoSchedule": "NO_SCHEDULE"}[toleration["effect"]] == taint["effect"]
    assert scheduling.pod_placement(ctx)["nodeSelector"] == run_pool().named(
        "orbit-pool-nodes-node-group").inputs["labels"]


def test_a_cluster_without_dedicated_pools_refuses_the_pool():
    with pytest.raises(ValueError, match="does not allow dedicated node pools: node-tier tenant 'orbit'"):
        run_pool(dedicated_pools=False)


@pytest.mark.parametrize("tier", ["namespace", "vcluster", "cluster"])
def test_only_node_tier_tenants_get_a_pool(tier):
    with pytest.raises(ValueError, match="only node-tier tenants get a dedicated node pool"):
        run_pool(tier=tier)
