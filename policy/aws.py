"""AWS type tokens and small readers shared by rules.

Rules on clusters and node groups accept both the raw ``aws:eks`` resources and the
``pulumi_eks`` components (``eks:index:Cluster``, ``eks:index:ManagedNodeGroup``), whose
inputs are flatter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.props import as_map, get, is_true, json_doc

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_COMPONENT = "eks:index:Cluster"
CLUSTER_TYPES = (EKS_CLUSTER, EKS_COMPONENT)
NODE_GROUP_TYPES = ("aws:eks/nodeGroup:NodeGroup", "eks:index:ManagedNodeGroup")
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ACCESS_POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
POD_IDENTITY_ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
VPC_TYPES = ("aws:ec2/vpc:Vpc", "awsx:ec2:Vpc")
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SECURITY_GROUP_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP_TYPES = (SECURITY_GROUP, SECURITY_GROUP_RULE, SECURITY_GROUP_INGRESS)
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE_TYPES = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
             "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
LOGGING_TYPES = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
SECRETSMANAGER_ENTRY = "aws:secretsmanager/secret:Secret"
SECRETSMANAGER_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
SECRETSMANAGER_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_PROXY = "aws:rds/proxy:Proxy"
EFS_FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"
ECR_REPOSITORY = "aws:ecr/repository:Repository"

#: Name-like inputs that hold a resource's physical name, per type (for linking by name).
NAME_INPUTS = ("name", "bucket", "identifier", "clusterIdentifier", "roleName")


def tags(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The resource's tags."""
    return as_map(props.get("tags"))


def cluster_setting(type_: str, props: Mapping[str, Any], raw: tuple[str, ...],
                    component: str) -> Any:
    """A cluster setting from the raw resource's nested path or the component's flat input."""
    return get(props, *raw) if type_ == EKS_CLUSTER else props.get(component)


def addon_config(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """An EKS add-on's ``configurationValues`` JSON (empty if unset or not JSON)."""
    return json_doc(props.get("configurationValues")) or {}


def is_vpc_cni(type_: str, props: Mapping[str, Any]) -> bool:
    """The Amazon VPC CNI add-on."""
    return type_ == ADDON and props.get("addonName") == "vpc-cni"


def cni_network_policy_enabled(config: Mapping[str, Any]) -> bool:
    """Whether a vpc-cni configuration turns on its NetworkPolicy agent."""
    return is_true(config.get("enableNetworkPolicy"))


def physical_names(props: Mapping[str, Any]) -> list[str]:
    """The physical names a resource declares (for matching names and ARNs to it)."""
    return [v for k in NAME_INPUTS if isinstance(v := props.get(k), str) and v]
