"""TenantCluster under the recording mock engine: a cell's host cluster and a dedicated one.

Asserts the inputs every ISO rule of the cluster reads (EKS-01..04, NODE-03..06, NET-03,
NET-07, NET-08, IAM-01), the exact set of children, and that a dedicated cluster carries
the tenant's tags and its own keys and names everywhere.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter

import pulumi
import pytest

from components import cluster as c
from components.cluster import NodePool, NodePoolArgs, TenantCluster, TenantClusterArgs
from components.versions import EKS_ADDONS
from tenantctl.mock_engine import run_program
from tenants.naming import CellNames
from tenants.plans import load_plans
from tests.factories import ACCOUNT_ID, make_context

ADMIN = f"arn:aws:iam::{ACCOUNT_ID}:role/tp-prod-platform-admin"
ZONES = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
DEDICATED = make_context("minato-bank", tier="cluster", plan="enterprise", resolved_cidr="10.128.0.0/18")
CELL_NAMES = CellNames("apne1-01", "prod").cluster_names
CASES = {
    "cell": dict(name="tp-prod-cell-apne1-01", names=CELL_NAMES, cidr="10.0.0.0/16",
                 pool=c.CELL_WORKLOAD_POOL, public=("203.0.113.0/24",),
                 tags={"managed-by": "tenant-platform", "cell": "apne1-01"}),
    "dedicated": dict(name="tp-prod-minato-bank", names=DEDICATED.names.cluster_names, cidr="10.128.0.0/18",
                      pool=DEDICATED.tenant.plan.node_pool, public=(), tags=DEDICATED.tags),
}


def cluster_args(case, **overrides):
    spec = CASES[case]
    args = dict(names=spec["names"], vpc_cidr=spec["cidr"], region="ap-northeast-1",
                workload_pool=spec["pool"], public_access_cidrs=spec["public"],
                admin_principals={"platform-admin": ADMIN}, kubeconfig_role_arn=ADMIN, tags=spec["tags"])
    return TenantClusterArgs(**{**args, **overrides})


def run_cluster(case):
    """Run one TenantCluster; ``run.outputs["ref"]`` holds its ClusterRef, resolved."""
    refs: dict[str, object] = {}

    def program():
        cluster = TenantCluster(CASES[case]["name"], cluster_args(case))
        ref = cluster.ref()
        return pulumi.Output.from_input({
            "name": ref.name, "oidc_provider_arn": ref.oidc_provider_arn, "oidc_issuer": ref.oidc_issuer,
            "vpc_id": ref.vpc_id, "vpc_cidr": ref.vpc_cidr, "private_subnet_ids": ref.private_subnet_ids,
            "node_security_group_id": ref.node_security_group_id, "account_id": ref.account_id,
            "region": ref.region, "dedicated_pools": ref.dedicated_pools, "tags": ref.tags,
        }).apply(refs.update)
    run = run_program(program)
    run.outputs["ref"] = refs
    return run


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    return request.param, run_cluster(request.param)


def one(run, type_):
    [resource] = run.of_type(type_)
    return resource


def test_children_are_exactly_the_cluster_parts(case):
    name, run = case
    prefix = CASES[name]["name"]
    component = run.named(prefix)
    assert component.type == "tenant-platform:index:TenantCluster"
    counts = Counter(r.type for r in run.resources)
    assert counts == Counter({
        "tenant-platform:index:TenantCluster": 1, "aws:ec2/vpc:Vpc": 1,
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1, "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:ec2/subnet:Subnet": 6, "aws:ec2/routeTable:RouteTable": 4, "aws:ec2/route:Route": 4,
        "aws:ec2/routeTableAssociation:RouteTableAssociation": 6, "aws:ec2/eip:Eip": 3,
        "aws:ec2/natGateway:NatGateway": 3, "aws:ec2/flowLog:FlowLog": 1,
        "aws:cloudwatch/logGroup:LogGroup": 2, "aws:kms/key:Key": 3, "aws:kms/alias:Alias": 3,
        "aws:iam/role:Role": 5, "aws:iam/rolePolicy:RolePolicy": 3,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 6, "aws:eks/cluster:Cluster": 1,
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1, "aws:eks/accessEntry:AccessEntry": 1,
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": 1, "aws:eks/addon:Addon": 4,
        "tenant-platform:index:NodePool": 2, "aws:ec2/launchTemplate:LaunchTemplate": 2,
        "aws:eks/nodeGroup:NodeGroup": 2, "pulumi:providers:kubernetes": 1})
    # Every child is named after the component, and everything hangs under it.
    assert all(r.name.startswith(prefix) for r in run.resources)
    assert {r.parent for r in run.resources if r is not component} <= {
        component.urn, *(p.urn for p in run.of_type("tenant-platform:index:NodePool"))}


def test_eks_cluster_is_private_encrypted_logged_and_api_authenticated(case):
    name, run = case
    spec = CASES[name]
    eks = one(run, "aws:eks/cluster:Cluster").inputs
    private = [s for s in run.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name]
    assert eks["name"] == spec["names"].cluster and eks["version"] == "1.33"
    assert eks["vpcConfig"]["subnetIds"] == [s.id for s in sorted(private, key=lambda s: s.name)]
    assert eks["vpcConfig"]["endpointPrivateAccess"] is True
    # The control plane's extra group: no runner configured, so it admits nothing.
    api = one(run, "aws:ec2/securityGroup:SecurityGroup")
    assert eks["vpcConfig"]["securityGroupIds"] == [api.id]
    assert api.inputs["name"] == spec["names"].api_security_group and "ingress" not in api.inputs
    assert not run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert eks["vpcConfig"]["endpointPublicAccess"] is bool(spec["public"])          # ISO-EKS-01
    assert eks["vpcConfig"].get("publicAccessCidrs") == (list(spec["public"]) or None)
    assert eks["accessConfig"] == {"authenticationMode": "API",                    # ISO-EKS-04
                                   "bootstrapClusterCreatorAdminPermissions": False}
    secrets_key = run.named(f"{spec['name']}-eks-key")
    assert eks["encryptionConfig"] == {"resources": ["secrets"],                   # ISO-EKS-02
                                       "provider": {"keyArn": secrets_key.outputs["arn"]}}
    assert {"audit", "authenticator"} <= set(eks["enabledClusterLogTypes"])        # ISO-EKS-03
    assert eks["enabledClusterLogTypes"] == list(c.CONTROL_PLANE_LOGS)
    assert eks["bootstrapSelfManagedAddons"] is False
    assert eks["roleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{spec['names'].role('cluster')}"
    assert eks["deletionProtection"] is True
    # The control-plane log group exists (encrypted, retained) before EKS would create it.
    logs = run.named(f"{spec['name']}-control-plane-logs")
    assert logs.urn in run.named(f"{spec['name']}-eks").options["dependsOn"]
    assert logs.inputs["name"] == f"/aws/eks/{spec['names'].cluster}/cluster"


def test_cluster_role_may_use_only_its_secrets_key(case):
    name, run = case
    prefix = CASES[name]["name"]
    policy = json.loads(run.named(f"{prefix}-cluster-role-encryption").inputs["policy"])
    assert policy == c.cluster_encryption_policy(run.named(f"{prefix}-eks-key").outputs["arn"])
    attachments = run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert [r.inputs["policyArn"] for r in attachments if r.name.startswith(f"{prefix}-cluster-role-")] == [
        "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]


def test_vpc_spans_three_zones_with_private_nodes_and_flow_logs(case):
    name, run = case
    spec = CASES[name]
    vpc = one(run, "aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == spec["cidr"]
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    assert sorted(s.inputs["availabilityZone"] for s in subnets) == sorted(ZONES * 2)
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)          # ISO-NODE-06
    assert all(s.inputs["vpcId"] == vpc.id for s in subnets)
    network = ipaddress.IPv4Network(spec["cidr"])
    assert all(ipaddress.IPv4Network(s.inputs["cidrBlock"]).subnet_of(network) for s in subnets)
    for subnet in subnets:
        role = "kubernetes.io/role/elb" if "-public-" in subnet.name else "kubernetes.io/role/internal-elb"
        assert subnet.inputs["tags"][role] == "1"
    flow = one(run, "aws:ec2/flowLog:FlowLog").inputs                              # ISO-NET-08
    group = run.named(f"{spec['name']}-flow-logs")
    assert flow == {"vpcId": vpc.id, "trafficType": "ALL", "logDestinationType": "cloud-watch-logs",
                    "logDestination": group.outputs["arn"], "maxAggregationInterval": 60,
                    "iamRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{spec['names'].role('flow-logs')}",
                    "tags": {**spec["tags"], "Name": spec["names"].cluster}}
    assert json.loads(run.named(f"{spec['name']}-flow-logs-role-policy").inputs["policy"]) == \
        c.flow_log_policy(group.outputs["arn"])
    default_sg = one(run, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").inputs
    assert default_sg["ingress"] == [] and default_sg["egress"] == []


def test_private_subnets_route_out_through_their_zones_nat_gateway(case):
    name, run = case
    prefix = CASES[name]["name"]
    for zone in ZONES:
        nat = run.named(f"{prefix}-nat-{zone}")
        assert nat.inputs["subnetId"] == run.named(f"{prefix}-public-{zone}").id
        route = run.named(f"{prefix}-private-{zone}-default-route").inputs
        assert route["natGatewayId"] == nat.id and route["destinationCidrBlock"] == "0.0.0.0/0"
        association = run.named(f"{prefix}-private-{zone}-rta").inputs
        assert association == {"subnetId": run.named(f"{prefix}-private-{zone}").id,
                               "routeTableId": run.named(f"{prefix}-private-{zone}-rt").id}
    assert run.named(f"{prefix}-public-default-route").inputs["gatewayId"] == run.named(f"{prefix}-igw").id


def test_single_nat_gateway_serves_every_zone_when_asked():
    def program():
        TenantCluster("dev", cluster_args("cell", single_nat_gateway=True))
    run = run_program(program)
    [nat] = run.of_type("aws:ec2/natGateway:NatGateway")
    assert {r.inputs["natGatewayId"] for r in run.of_type("aws:ec2/route:Route")
            if "natGatewayId" in r.inputs} == {nat.id}


def test_keys_are_the_owners_rotated_protected_and_retained(case):
    name, run = case
    spec = CASES[name]
    keys = run.of_type("aws:kms/key:Key")
    assert sorted(k.name for k in keys) == sorted(f"{spec['name']}-{p}-key" for p in c.KEY_PURPOSES)
    for key in keys:
        assert key.inputs["enableKeyRotation"] is True
        assert key.options["protect"] is True and key.options["retainOnDelete"] is True
        assert key.inputs["tags"] == spec["tags"]
        principals = [s.get("Principal") for s in json.loads(key.inputs["policy"])["Statement"]]
        assert "*" not in principals and all("*" not in json.dumps(p) for p in principals)
    assert sorted(a.inputs["name"] for a in run.of_type("aws:kms/alias:Alias")) == sorted(
        spec["names"].kms_alias(p) for p in c.KEY_PURPOSES)
    logs_key = run.named(f"{spec['name']}-logs-key").outputs["arn"]
    for group in run.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["kmsKeyId"] == logs_key and group.inputs["retentionInDays"] == 365
        assert group.options["protect"] is True and group.options["retainOnDelete"] is True


@pytest.mark.parametrize("group", ["system", "workload"])
def test_node_groups_are_hardened_and_private(case, group):
    name, run = case
    spec = CASES[name]
    prefix = spec["name"]
    template = run.named(f"{prefix}-{group}-launch-template").inputs
    assert template["name"] == spec["names"].launch_template(group)
    assert template["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",  # NODE-03
                                           "httpPutResponseHopLimit": 1, "instanceMetadataTags": "disabled"}
    [device] = template["blockDeviceMappings"]
    volumes_key = run.named(f"{prefix}-volumes-key").outputs["arn"]
    assert device["ebs"]["encrypted"] == "true" and device["ebs"]["kmsKeyId"] == volumes_key  # NODE-06
    assert "keyName" not in template and "networkInterfaces" not in template and "userData" not in template

    node_group = run.named(f"{prefix}-{group}-node-group")
    inputs = node_group.inputs
    assert "remoteAccess" not in inputs                                                     # NODE-05
    private = sorted(s.id for s in run.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name)
    assert sorted(inputs["subnetIds"]) == private
    assert inputs["nodeRoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{spec['names'].role('nodes')}"
    assert inputs["launchTemplate"] == {"id": run.named(f"{prefix}-{group}-launch-template").id,
                                        "version": "1"}
    size = c.SYSTEM_POOL if group == "system" else spec["pool"]
    assert inputs["instanceTypes"] == list(size.instance_types)
    assert inputs["scalingConfig"] == {"minSize": size.min_size, "maxSize": size.max_size,
                                       "desiredSize": size.min_size}
    assert inputs["labels"] == {"tenant-platform.io/pool": group}
    assert inputs.get("taints", []) == ([c.SYSTEM_TAINT] if group == "system" else [])
    assert node_group.options["ignoreChanges"] == ["scalingConfig.desiredSize"]
    # Nodes join only once the CNI (and kube-proxy) add-ons and the role's policies exist.
    depends = set(node_group.options["dependsOn"])
    assert {run.named(f"{prefix}-addon-vpc-cni").urn, run.named(f"{prefix}-addon-kube-proxy").urn} <= depends
    assert {a.urn for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a.name.startswith(f"{prefix}-node-role-")} <= depends


def test_dedicated_workload_group_is_sized_by_the_plan():
    assert CASES["dedicated"]["pool"] == load_plans()["enterprise"].node_pool


def test_node_role_is_minimal_and_the_cni_uses_irsa(case):
    name, run = case
    prefix = CASES[name]["name"]
    attachments = {a.name.removeprefix(f"{prefix}-"): a.inputs["policyArn"]
                   for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert sorted(v for k, v in attachments.items() if k.startswith("node-role-")) == sorted(
        f"arn:aws:iam::aws:policy/{p}" for p in c.NODE_ROLE_POLICIES)                  # ISO-NODE-04
    assert attachments["vpc-cni-role-AmazonEKS_CNI_Policy"] == "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
    assert attachments["ebs-csi-role-AmazonEBSCSIDriverPolicy"] == \
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    oidc = one(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    issuer = oidc.inputs["url"].removeprefix("https://")
    for addon, subject in (("vpc-cni", "system:serviceaccount:kube-system:aws-node"),
                           ("ebs-csi", "system:serviceaccount:kube-system:ebs-csi-controller-sa")):
        [statement] = json.loads(run.named(f"{prefix}-{addon}-role").inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Federated": oidc.outputs["arn"]}                # ISO-IAM-01
        assert statement["Condition"] == {"StringEquals": {f"{issuer}:sub": subject,
                                                           f"{issuer}:aud": "sts.amazonaws.com"}}
    assert json.loads(run.named(f"{prefix}-ebs-csi-role-policy").inputs["policy"]) == \
        c.ebs_csi_key_policy(run.named(f"{prefix}-volumes-key").outputs["arn"])


def test_oidc_provider_trusts_the_clusters_issuer_for_sts(case):
    name, run = case
    eks = run.named(f"{CASES[name]['name']}-eks")
    oidc = one(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    assert oidc["url"] == eks.outputs["identities"][0]["oidcs"][0]["issuer"]
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]


def test_addons_are_pinned_and_the_cni_enforces_network_policy(case):
    name, run = case
    prefix = CASES[name]["name"]
    addons = {a.inputs["addonName"]: a for a in run.of_type("aws:eks/addon:Addon")}
    assert {n: a.inputs["addonVersion"] for n, a in addons.items()} == EKS_ADDONS
    cni = addons["vpc-cni"].inputs
    assert json.loads(cni["configurationValues"])["enableNetworkPolicy"] == "true"        # ISO-NET-03
    assert cni["serviceAccountRoleArn"] == run.named(f"{prefix}-vpc-cni-role").outputs["arn"]
    assert addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"] == \
        run.named(f"{prefix}-ebs-csi-role").outputs["arn"]
    assert "serviceAccountRoleArn" not in addons["coredns"].inputs
    groups = {g.urn for g in run.of_type("aws:eks/nodeGroup:NodeGroup")}
    for after in ("coredns", "aws-ebs-csi-driver"):
        assert groups <= set(addons[after].options["dependsOn"])
    for addon in addons.values():
        assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
        assert addon.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"


def test_only_the_platform_admin_gets_cluster_admin_through_an_access_entry(case):
    name, run = case
    entry = one(run, "aws:eks/accessEntry:AccessEntry").inputs
    association = one(run, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert entry["principalArn"] == association.inputs["principalArn"] == ADMIN
    assert entry["type"] == "STANDARD" and entry["clusterName"] == CASES[name]["names"].cluster
    assert association.inputs["policyArn"] == \
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert association.inputs["accessScope"] == {"type": "cluster"}
    assert run.named(f"{CASES[name]['name']}-access-platform-admin").urn in association.options["dependsOn"]


def test_kubernetes_provider_waits_for_access_nodes_and_addons(case):
    name, run = case
    provider = one(run, "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.inputs["clusterIdentifier"] == CASES[name]["names"].cluster
    waits = {r.urn for r in run.resources if r.type in (
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:eks/addon:Addon",
        "aws:eks/nodeGroup:NodeGroup")}
    assert waits <= set(provider.options["dependsOn"])


def test_ref_carries_the_clusters_outputs(case):
    name, run = case
    spec = CASES[name]
    ref = run.outputs["ref"]
    eks = run.named(f"{spec['name']}-eks")
    issuer = eks.outputs["identities"][0]["oidcs"][0]["issuer"]
    assert ref == {
        "name": spec["names"].cluster,
        "oidc_provider_arn": one(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").outputs["arn"],
        "oidc_issuer": issuer.removeprefix("https://"),
        "vpc_id": one(run, "aws:ec2/vpc:Vpc").id, "vpc_cidr": spec["cidr"],
        "private_subnet_ids": [run.named(f"{spec['name']}-private-{z}").id for z in ZONES],
        "node_security_group_id": eks.outputs["vpcConfig"]["clusterSecurityGroupId"],
        "account_id": ACCOUNT_ID, "region": "ap-northeast-1", "dedicated_pools": True,
        "tags": spec["tags"]}


def test_every_taggable_resource_carries_the_owners_tags(case):
    name, run = case
    tags = CASES[name]["tags"]
    tagged = [r for r in run.resources if r.type.startswith("aws:") and "tags" in r.inputs]
    assert len(tagged) > 40
    assert all(tags.items() <= r.inputs["tags"].items() for r in tagged), [
        r.name for r in tagged if not tags.items() <= r.inputs["tags"].items()]
    untagged_types = {r.type for r in run.resources if r.type.startswith("aws:") and "tags" not in r.inputs}
    assert untagged_types == {  # these AWS resources have no tags
        "aws:kms/alias:Alias", "aws:ec2/route:Route", "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"}


def test_dedicated_cluster_uses_only_the_tenants_names():
    run = run_cluster("dedicated")
    names = DEDICATED.names
    assert {r.inputs["name"] for r in run.of_type("aws:iam/role:Role")} == {
        f"tp-prod-minato-bank-{p}" for p in ("cluster", "nodes", "vpc-cni", "ebs-csi", "flow-logs")}
    assert {a.inputs["name"] for a in run.of_type("aws:kms/alias:Alias")} == {
        names.kms_alias(p) for p in ("eks", "volumes", "logs")}
    assert one(run, "aws:eks/cluster:Cluster").inputs["name"] == names.cluster == "tp-prod-minato-bank"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"public_access_cidrs": ("0.0.0.0/0",)}, "opens the API endpoint to the internet"),
    ({"vpc_cidr": "10.0.0.0/21"}, "must be a /16 to /20"),
    ({"availability_zones": ["ap-northeast-1a", "ap-northeast-1c"]}, "need 3 distinct availability zones"),
], ids=["public-endpoint", "vpc-too-small", "two-zones"])
def test_bad_arguments_fail_before_anything_is_declared(overrides, message):
    declared = []

    def program():
        try:
            TenantCluster("bad", cluster_args("cell", **overrides))
        except ValueError as error:
            declared.append(str(error))
    run = run_program(program)
    assert run.resources == [] and message in declared[0]


def test_node_pool_refuses_inverted_bounds():
    from tenants.plans import NodePoolSize

    size = NodePoolSize.model_construct(instance_types=("m6i.large",), min_size=3, max_size=2, disk_gib=50)
    with pytest.raises(ValueError, match="max_size 2 < min_size 3"):
        NodePool("pool", NodePoolArgs(cluster_name="c", node_group_name="g", launch_template_name="t",
                                      node_role_arn="r", subnet_ids=[], size=size, volume_key_arn="k"))
