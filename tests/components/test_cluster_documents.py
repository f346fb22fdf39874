"""TenantCluster's pure decisions and policy documents, without an engine."""

from __future__ import annotations

import json

import pytest

from components import cluster as c
from tenants.naming import CellNames, NameError_, TenantNames
from tests.components import policy_lint

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/0b1c"
ALIAS = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:alias/tp/prod/acme/eks"
LOG_GROUPS = ["/aws/eks/tp-prod-acme/cluster", "/tp/vpc-flow-logs/tp-prod-acme"]
FLOW_LOG_GROUP = f"arn:aws:logs:ap-northeast-1:{ACCOUNT}:log-group:/tp/vpc-flow-logs/tp-prod-acme"

ADMIN = f"arn:aws:iam::{ACCOUNT}:role/tp-prod-platform-admin"
CLUSTER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/tp-prod-acme-cluster"
EBS_CSI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/tp-prod-acme-ebs-csi"
KEY_POLICIES = {
    "secrets": c.secrets_key_policy(ACCOUNT, admin_role_arn=ADMIN, users=[CLUSTER_ROLE, ADMIN]),
    "volumes": c.volume_key_policy(ACCOUNT, admin_role_arn=ADMIN, users=[EBS_CSI_ROLE]),
    "logs": c.logs_key_policy(ACCOUNT, "ap-northeast-1", LOG_GROUPS, admin_role_arn=ADMIN),
}
PERMISSION_POLICIES = {
    "cluster-encryption": c.cluster_encryption_policy(KEY),
    "ebs-csi-key": c.ebs_csi_key_policy(KEY),
    "flow-logs": c.flow_log_policy(FLOW_LOG_GROUP),
}


@pytest.mark.parametrize("purpose", sorted(KEY_POLICIES), ids=sorted(KEY_POLICIES))
def test_key_policies_lint_clean_and_name_no_wildcard(purpose):
    document = KEY_POLICIES[purpose]
    assert policy_lint.findings(document, key_resources=[KEY, ALIAS]) == []
    assert policy_lint.allow_wildcards(document) == []
    # The platform admin role (the deployer) administers the key, so the lockout safety check
    # passes, but cannot use it; the account root appears only under an exact principal fence.
    [admin] = [s for s in document["Statement"] if s["Sid"] == "PlatformAdminAdministersKey"]
    assert admin["Principal"] == {"AWS": ADMIN}
    assert {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"} <= set(admin["Action"])
    assert "kms:Decrypt" not in admin["Action"]
    for statement in document["Statement"]:
        if statement["Principal"].get("AWS") == f"arn:aws:iam::{ACCOUNT}:root":
            assert set(statement["Condition"]) == {"ArnEquals"}, statement
            assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]


def test_logs_key_serves_exactly_the_clusters_log_groups():
    [logs] = [s for s in KEY_POLICIES["logs"]["Statement"] if s["Principal"].get("Service")]
    assert logs["Principal"] == {"Service": "logs.ap-northeast-1.amazonaws.com"}
    assert logs["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": [
        f"arn:aws:logs:ap-northeast-1:{ACCOUNT}:log-group:{g}" for g in LOG_GROUPS]}}


def test_volume_key_lets_auto_scaling_launch_encrypted_nodes_through_grants_for_aws_resources():
    statements = {s["Sid"]: s for s in KEY_POLICIES["volumes"]["Statement"]}
    autoscaling = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
                   "AWSServiceRoleForAutoScaling")
    assert statements["AutoScalingUsesKeyForVolumes"]["Principal"] == {"AWS": autoscaling}
    assert statements["AutoScalingAttachesVolumes"]["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"}}


@pytest.mark.parametrize("name", sorted(PERMISSION_POLICIES), ids=sorted(PERMISSION_POLICIES))
def test_permission_policies_lint_clean(name):
    assert policy_lint.findings(PERMISSION_POLICIES[name]) == []


def test_only_the_flow_log_streams_are_a_pattern():
    assert policy_lint.allow_wildcards(PERMISSION_POLICIES["cluster-encryption"]) == []
    assert policy_lint.allow_wildcards(PERMISSION_POLICIES["ebs-csi-key"]) == []
    # Log stream names are chosen by the flow-log service: the one pattern, inside one group.
    assert policy_lint.allow_wildcards(PERMISSION_POLICIES["flow-logs"]) == [
        f"WriteFlowLogs: resource {FLOW_LOG_GROUP}:log-stream:*"]


def test_ebs_csi_grants_only_for_aws_resources_on_the_volumes_key():
    [grant, use] = c.ebs_csi_key_policy(KEY)["Statement"]
    assert grant["Resource"] == use["Resource"] == KEY
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert "kms:CreateGrant" not in use["Action"]


@pytest.mark.parametrize(("service", "kwargs", "statement"), [
    ("eks.amazonaws.com", {"actions": ("sts:AssumeRole", "sts:TagSession")},
     {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
      "Action": ["sts:AssumeRole", "sts:TagSession"]}),
    ("ec2.amazonaws.com", {}, {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                               "Action": "sts:AssumeRole"}),
    ("vpc-flow-logs.amazonaws.com", {"source_account": ACCOUNT},
     {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole",
      "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}),
], ids=["control-plane", "nodes", "flow-logs"])
def test_service_trust_policies(service, kwargs, statement):
    document = c.service_trust_policy(service, **kwargs)
    assert document == {"Version": "2012-10-17", "Statement": [statement]}
    # parliament reads every document as an identity policy; a trust policy has no Resource.
    assert policy_lint.findings(document) == [
        ("MALFORMED", "Statement contains neither Resource nor NotResource")]


@pytest.mark.parametrize(("cidrs", "expected"), [
    ((), {"endpoint_private_access": True, "endpoint_public_access": False}),
    (("203.0.113.0/24",), {"endpoint_private_access": True, "endpoint_public_access": True,
                           "public_access_cidrs": ["203.0.113.0/24"]}),
], ids=["private-only", "restricted-public"])
def test_endpoint_is_private_or_restricted(cidrs, expected):
    assert c.endpoint_access(cidrs) == expected


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_endpoint_open_to_the_internet_is_refused(cidr):
    with pytest.raises(ValueError, match="opens the API endpoint to the internet"):
        c.endpoint_access(["203.0.113.0/24", cidr])


@pytest.mark.parametrize(("types", "ami"), [
    (["m6i.large"], "AL2023_x86_64_STANDARD"), (["m7g.large", "c7gn.xlarge"], "AL2023_ARM_64_STANDARD"),
], ids=["x86", "graviton"])
def test_ami_type_follows_the_architecture(types, ami):
    assert c.ami_type(types) == ami


def test_ami_type_refuses_mixed_architectures():
    with pytest.raises(ValueError, match="mix arm64 and x86_64"):
        c.ami_type(["m6i.large", "m7g.large"])


def test_metadata_options_require_imdsv2_with_hop_limit_one():
    assert c.hardened_metadata_options() == {"http_endpoint": "enabled", "http_tokens": "required",
                                             "http_put_response_hop_limit": 1,
                                             "instance_metadata_tags": "disabled"}


def test_vpc_cni_enforces_network_policies():
    config = c.vpc_cni_configuration()
    # The add-on's schema takes the string "true", not a boolean.
    assert config["enableNetworkPolicy"] == "true"
    assert config["env"] == {"POD_SECURITY_GROUP_ENFORCING_MODE": "standard"}


def test_ebs_csi_tags_the_volumes_it_creates():
    assert c.ebs_csi_configuration({"tenant": "acme"}) == {
        "controller": {"extraVolumeTags": {"tenant": "acme"}}}
    assert c.ebs_csi_configuration({}) == {}


@pytest.mark.parametrize("role", [None, "arn:aws:iam::123456789012:role/tp-prod-platform-admin"],
                         ids=["ambient-credentials", "assumed-role"])
def test_kubeconfig_authenticates_through_aws_eks_get_token(role):
    config = c.kubeconfig("tp-prod-acme", "https://ABC.gr7.ap-northeast-1.eks.amazonaws.com", "Q0E=",
                          "ap-northeast-1", role)
    [cluster] = config["clusters"]
    assert cluster["cluster"] == {"server": "https://ABC.gr7.ap-northeast-1.eks.amazonaws.com",
                                  "certificate-authority-data": "Q0E="}
    [user] = config["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "aws"
    expected = ["--region", "ap-northeast-1", "eks", "get-token", "--cluster-name", "tp-prod-acme",
                "--output", "json"]
    assert exec_["args"] == expected + (["--role-arn", role] if role else [])
    assert config["current-context"] == "aws"
    json.dumps(config)  # serialisable as the provider's kubeconfig


@pytest.mark.parametrize("owner", [TenantNames("minato-bank", "prod"), CellNames("apne1-01", "prod")],
                         ids=["dedicated", "cell"])
def test_cluster_names_hang_under_their_owners_names(owner):
    names = owner.cluster_names
    assert names.cluster == owner.cluster
    assert names.kms_alias("eks") == owner.kms_alias("eks")
    assert names.role("external-dns") == f"{owner.prefix}-external-dns"
    assert names.launch_template("system") == f"{owner.prefix}-system"
    assert names.control_plane_log_group == f"/aws/eks/{owner.cluster}/cluster"


def test_the_longest_owner_names_fit_aws_limits():
    names = TenantNames("a" * 29 + "z", "abcdefgh").cluster_names
    for purpose in ("cluster", "nodes", "vpc-cni", "ebs-csi", "flow-logs", "cert-manager", "external-dns"):
        assert len(names.role(purpose)) <= 64
    with pytest.raises(NameError_, match="the limit is 64"):
        names.role("a-purpose-far-too-long-for-iam")
