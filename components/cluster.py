"""TenantCluster: a VPC and a hardened EKS cluster, for a cell's host or a dedicated tenant.

The same component builds both kinds of cluster; only its arguments differ (names,
CIDR, tags, node sizes, KMS aliases). Everything is declared with plain ``pulumi_aws``
resources rather than the ``pulumi_eks`` component, on purpose:

- ``pulumi_eks.Cluster`` (4.x) hard-codes ``bootstrapClusterCreatorAdminPermissions:
  true`` on the cluster it creates, which ISO-EKS-04 forbids (the deploying principal
  would hold an invisible, unrevocable cluster-admin grant), and cannot be told otherwise;
- a multi-language component's children never reach the mock engine or the offline
  policy evaluation, so its cluster, roles and security settings could not be checked
  by the policy pack before a deployment; declared directly, every input that an ISO rule
  reads is in the plan;
- ``eks.ManagedNodeGroup`` hangs under mocks (its multi-language component rebuilds the
  cluster reference on another event loop).

What the cluster gets, and why:

- VPC over three zones (:mod:`components.network`), private subnets for everything that
  runs, public ones only for NAT gateways and load balancers, no public IP on launch
  anywhere, the default security group emptied, flow logs to an encrypted log group
  (ISO-NET-08, ISO-NODE-06).
- Three KMS keys of the owner (cell or dedicated tenant), rotation on, protected and
  retained: ``eks`` envelope-encrypts Kubernetes secrets (ISO-EKS-02), ``volumes``
  encrypts node root volumes and the default StorageClass, ``logs`` the log groups.
- Private API endpoint; a public one only for the configured CIDRs, never 0.0.0.0/0
  (ISO-EKS-01). All control-plane logs incl. audit and authenticator (ISO-EKS-03).
- Access entries only (``authenticationMode: API``, no aws-auth ConfigMap) and no
  creator bootstrap: the platform admin role gets an explicit, visible cluster-admin
  access entry, and the Kubernetes provider authenticates as that role (ISO-EKS-04).
- OIDC provider for IRSA. The VPC CNI and the EBS CSI driver get their permissions
  through IRSA roles, so the node role keeps only what a node needs (ISO-NODE-04).
- Managed node groups on launch templates (:class:`NodePool`): IMDSv2 only with hop
  limit 1, encrypted gp3 root volumes, no SSH, private subnets (ISO-NODE-03/05/06).
  A small tainted ``system`` group for add-ons and a ``workload`` group sized by the
  plan (dedicated) or the cell default.
- EKS managed add-ons at pinned versions: vpc-cni with network-policy enforcement on
  (ISO-NET-03) and kube-proxy before any node exists; CoreDNS and the EBS CSI driver
  after the nodes (they need somewhere to run). Self-managed bootstrap add-ons are off,
  so exactly these exist.

The Kubernetes provider's kubeconfig resolves only after the admin access entry, the
node groups, the add-ons and the deploy runner's route into the VPC exist, so no
Kubernetes object is sent to a cluster that cannot yet authenticate the provider, run a
pod, or be reached from the runner (:mod:`components.deploy_runner`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import deploy_runner
from components import iam_documents as docs
from components.context import ClusterRef
from components.identity import irsa_trust_policy
from components.network import ZONE_COUNT, subnet_layout, subnet_tags
from components.versions import KUBERNETES_VERSION, eks_addon
from tenants.models import DeployRunner
from tenants.naming import ClusterNames
from tenants.plans import NodePoolSize
from tenants.regions import EKS_UNSUPPORTED_ZONE_IDS

VERSION = "2012-10-17"
#: Control-plane log types; ISO-EKS-03 requires audit and authenticator among them.
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
LOG_RETENTION_DAYS = 365
AUTHENTICATION_MODE = "API"
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
CLUSTER_ROLE_POLICIES = ("AmazonEKSClusterPolicy",)
#: AWS managed policies of a node role: join the cluster, pull images, SSM instead of SSH.
#: Nothing for the CNI: that is the ``aws-node`` service account's IRSA role.
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                      "AmazonSSMManagedInstanceCore")
VPC_CNI_POLICY = "AmazonEKS_CNI_Policy"
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"
#: (namespace, service account) of the add-ons that use IRSA.
VPC_CNI_SERVICE_ACCOUNT = ("kube-system", "aws-node")
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
ROOT_DEVICE = "/dev/xvda"
#: Node label naming the platform pool a node belongs to.
POOL_LABEL = "tenant-platform.io/pool"
#: Taint of the system pool: only add-ons (which tolerate it) run there.
SYSTEM_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
SYSTEM_POOL = NodePoolSize(instance_types=("m6i.large",), min_size=2, max_size=4, disk_gib=50)
#: Workload group of a cell's host cluster (dedicated tenants take their plan's node_pool).
CELL_WORKLOAD_POOL = NodePoolSize(instance_types=("m6i.xlarge",), min_size=3, max_size=12,
                                  disk_gib=100)
#: KMS key purposes of a cluster (alias suffixes).
KEY_PURPOSES = ("eks", "volumes", "logs")
ClusterMode = Literal["serving", "released", "data"]
_GRAVITON = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")


# --- pure decisions and documents ----------------------------------------------------------
def ami_type(instance_types: Sequence[str]) -> str:
    """The EKS AL2023 AMI type for a set of instance types (all one architecture)."""
    arm = {bool(_GRAVITON.match(t)) for t in instance_types}
    if len(arm) != 1:
        raise ValueError(f"instance types {list(instance_types)} mix arm64 and x86_64")
    return "AL2023_ARM_64_STANDARD" if arm.pop() else "AL2023_x86_64_STANDARD"


def zone_names(zone_ids: Sequence[str], names: Sequence[str], ids: Sequence[str]) -> list[str]:
    """The account's names of ``zone_ids``, in their order, from EC2's (names, zoneIds) lists.

    Raises ValueError naming the zone IDs the region does not offer this account.
    """
    by_id = dict(zip(ids, names, strict=True))
    missing = [z for z in zone_ids if z not in by_id]
    if missing:
        raise ValueError(f"availability zone IDs {missing} are not offered to this account "
                         f"(it has {sorted(by_id)}): fix availability_zones in _platform.yaml")
    return [by_id[z] for z in zone_ids]


def cluster_zones(region: str, zone_ids: Sequence[str], parent: pulumi.Resource) -> list[str]:
    """The zone names a cluster spans: the pinned zone IDs, else EKS-supported available zones.

    Asks EC2 through the parent's (the stack's) provider: zone names map to different
    physical zones in every account, so only this account can name them.
    """
    opts = pulumi.InvokeOptions(parent=parent)
    if zone_ids:
        found = aws.get_availability_zones(region=region, all_availability_zones=True,
                                           filters=[{"name": "zone-id", "values": list(zone_ids)}], opts=opts)
        return zone_names(zone_ids, found.names, found.zone_ids)
    offered = aws.get_availability_zones(
        region=region, state="available", exclude_zone_ids=sorted(EKS_UNSUPPORTED_ZONE_IDS),
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}], opts=opts)
    return list(offered.names)


def hardened_metadata_options() -> dict[str, Any]:
    """Instance metadata: IMDSv2 only, hop limit 1 (pods cannot reach the node's role)."""
    return {"http_endpoint": "enabled", "http_tokens": "required",
            "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"}


def endpoint_access(public_access_cidrs: Sequence[str]) -> dict[str, Any]:
    """The API endpoint settings: private always; public only for the given CIDRs.

    Raises ValueError for a CIDR that opens the endpoint to the internet (ISO-EKS-01).
    """
    for cidr in public_access_cidrs:
        if ipaddress.ip_network(cidr, strict=False).prefixlen == 0:
            raise ValueError(f"public_access_cidrs: {cidr} opens the API endpoint to the internet")
    access: dict[str, Any] = {"endpoint_private_access": True,
                              "endpoint_public_access": bool(public_access_cidrs)}
    if public_access_cidrs:
        access["public_access_cidrs"] = list(public_access_cidrs)
    return access


def service_trust_policy(service: str, *, actions: Sequence[str] = ("sts:AssumeRole",),
                         source_account: str | None = None) -> dict[str, Any]:
    """Trust policy letting one AWS service assume a role (optionally for one account only)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service},
                                 "Action": list(actions) if len(actions) > 1 else actions[0]}
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return {"Version": VERSION, "Statement": [statement]}


#: Key use the account may delegate through IAM policies (the cluster role, the EBS CSI role).
_DATA_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                     "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext")
KMS_USE_ACTIONS = (*_DATA_KEY_ACTIONS, "kms:CreateGrant")


def _named_roles_use(partition: str, account_id: str, users: Sequence[str]) -> list[dict[str, Any]]:
    # "*" in a key policy means this key. The account principal under an exact
    # aws:PrincipalArn fence: only these roles, as far as their IAM policies allow. A
    # condition rather than the roles as principals, because the roles are created after
    # the key and KMS rejects a key policy naming a principal that does not exist yet.
    if not users:
        return []
    return [{"Sid": "NamedRolesUseKey", "Effect": "Allow",
             "Principal": {"AWS": docs.account_root_arn(partition, account_id)},
             "Action": sorted({*KMS_USE_ACTIONS, "kms:DescribeKey", "kms:ListGrants"}), "Resource": "*",
             "Condition": {"ArnEquals": {"aws:PrincipalArn": sorted(set(users))}}}]


def secrets_key_policy(account_id: str, partition: str = "aws", *, admin_role_arn: str,
                       users: Sequence[str] = ()) -> dict[str, Any]:
    """Key policy of the secrets key: the platform admin role administers, ``users`` use it.

    The users are the cluster role and the deployer, whose CreateCluster makes EKS's grant.
    """
    return {"Version": VERSION, "Statement": [
        docs.key_administration(admin_role_arn), *_named_roles_use(partition, account_id, users)]}


def volume_key_policy(account_id: str, partition: str = "aws", *, admin_role_arn: str,
                      users: Sequence[str] = ()) -> dict[str, Any]:
    """Key policy of the volumes key.

    EC2 Auto Scaling's service-linked role launches the managed node groups' instances and
    must use the key for their encrypted root volumes, else instances fail to start. KMS
    rejects a key policy naming a principal that does not exist, and that role exists
    only once something created it: see :attr:`TenantClusterArgs.autoscaling_role`.
    ``users`` (the EBS CSI driver's role) use the key for volumes they create.
    """
    autoscaling = docs.autoscaling_role_arn(partition, account_id)
    return {"Version": VERSION, "Statement": [
        docs.key_administration(admin_role_arn), *_named_roles_use(partition, account_id, users),
        {"Sid": "AutoScalingUsesKeyForVolumes", "Effect": "Allow", "Principal": {"AWS": autoscaling},
         "Action": [*_DATA_KEY_ACTIONS, "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "AutoScalingAttachesVolumes", "Effect": "Allow", "Principal": {"AWS": autoscaling},
         "Action": "kms:CreateGrant", "Resource": "*",
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    ]}


def log_group_arn(partition: str, region: str, account_id: str, log_group: str) -> str:
    """ARN of a CloudWatch log group (as KMS encryption contexts name it)."""
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group}"


def logs_key_policy(account_id: str, region: str, log_groups: Sequence[str],
                    partition: str = "aws", *, admin_role_arn: str) -> dict[str, Any]:
    """Key policy of the logs key: CloudWatch Logs may use it for exactly these log groups."""
    arns = [log_group_arn(partition, region, account_id, g) for g in log_groups]
    return {"Version": VERSION, "Statement": [
        docs.key_administration(admin_role_arn),
        {"Sid": "CloudWatchLogsEncryptsTheClusterLogGroups", "Effect": "Allow",
         "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": list(_DATA_KEY_ACTIONS), "Resource": "*",
         # The encryption context names the log group: exact ARNs, no pattern.
         "Condition": {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": arns}}},
    ]}


def cluster_encryption_policy(key_arn: str) -> dict[str, Any]:
    """What the control plane needs on the secrets key to envelope-encrypt secrets."""
    return {"Version": VERSION, "Statement": [{
        "Sid": "EnvelopeEncryptSecrets", "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
        "Resource": key_arn}]}


def ebs_csi_key_policy(key_arn: str) -> dict[str, Any]:
    """What the EBS CSI controller needs on the volumes key for encrypted volumes."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "GrantToEbs", "Effect": "Allow",
         "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": key_arn,
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        {"Sid": "UseKeyForVolumes", "Effect": "Allow",
         "Action": [*_DATA_KEY_ACTIONS, "kms:DescribeKey"],
         "Resource": key_arn},
    ]}


def flow_log_policy(log_group: str) -> dict[str, Any]:
    """What the flow-log service role may do: write streams of its one log group."""
    return {"Version": VERSION, "Statement": [{
        "Sid": "WriteFlowLogs", "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [log_group, f"{log_group}:log-stream:*"]}]}


def vpc_cni_configuration() -> dict[str, Any]:
    """VPC CNI add-on configuration: the network-policy agent enforces NetworkPolicies.

    Security groups for pods, if ever enabled, run in ``standard`` mode so that
    NetworkPolicy still applies to those pods (ISO-NET-07).
    """
    return {"enableNetworkPolicy": "true",
            "env": {"POD_SECURITY_GROUP_ENFORCING_MODE": "standard"}}


def ebs_csi_configuration(tags: Mapping[str, str]) -> dict[str, Any]:
    """EBS CSI add-on configuration: volumes it creates carry the owner's tags."""
    return {"controller": {"extraVolumeTags": dict(tags)}} if tags else {}


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str,
               role_arn: str | None = None) -> dict[str, Any]:
    """A kubeconfig that authenticates through ``aws eks get-token`` (optionally as a role).

    The AWS CLI must be present where ``pulumi up`` runs, and the endpoint reachable from
    there (a private-only endpoint means running inside the VPC or through a VPN).
    """
    args = ["--region", region, "eks", "get-token", "--cluster-name", cluster_name,
            "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "aws",
        "clusters": [{"name": "kubernetes", "cluster": {
            "server": endpoint, "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": "aws", "context": {"cluster": "kubernetes", "user": "aws"}}],
        "users": [{"name": "aws", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": args, "interactiveMode": "Never"}}}],
    }


def _managed_policy(partition: str, policy: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{policy}"


def _issuer(identities: Sequence[Any]) -> str:
    """The OIDC issuer URL in an EKS cluster's ``identities`` output."""
    oidcs = identities[0].oidcs if identities else None
    if not oidcs or not oidcs[0].issuer:
        raise ValueError("the EKS cluster reports no OIDC issuer")
    return str(oidcs[0].issuer)


def _json(value: pulumi.Input[Any], build: Any) -> pulumi.Output[str]:
    return pulumi.Output.from_input(value).apply(lambda v: json.dumps(build(v)))


# --- node pools ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class NodePoolArgs:
    """Inputs of :class:`NodePool`: one hardened managed node group on a launch template.

    ``taints`` use the EKS spelling (``{"key", "value", "effect": "NO_SCHEDULE"}``).
    ``depends_on`` lists what must exist before the group (role policy attachments, the
    VPC CNI add-on): nodes that join without a CNI never become ready.
    """

    cluster_name: pulumi.Input[str]
    node_group_name: str
    launch_template_name: str
    node_role_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    size: NodePoolSize
    volume_key_arn: pulumi.Input[str]
    kubernetes_version: str = KUBERNETES_VERSION
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, str]] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()


class NodePool(pulumi.ComponentResource):
    """A managed node group whose nodes are hardened the same way in every cluster.

    Used for a cluster's system and workload groups and, through the same arguments, for
    a ``node``-tier tenant's dedicated pool in a cell (labels, taint and the tenant's
    own volume key are the caller's).
    """

    node_group: aws.eks.NodeGroup
    launch_template: aws.ec2.LaunchTemplate
    node_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: NodePoolArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:NodePool", name, None, opts)
        size = args.size
        if size.max_size < size.min_size:
            raise ValueError(f"node pool {args.node_group_name}: max_size {size.max_size} "
                             f"< min_size {size.min_size}")
        child = pulumi.ResourceOptions(parent=self)
        tags: dict[str, pulumi.Input[str]] = {
            **args.tags, "Name": pulumi.Output.concat(args.cluster_name, "-", args.node_group_name)}
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            name=args.launch_template_name,
            description=f"Hardened nodes of node group {args.node_group_name}",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(**hardened_metadata_options()),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ROOT_DEVICE,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=size.disk_gib, volume_type="gp3", encrypted="true",
                    kms_key_id=args.volume_key_arn, delete_on_termination="true"))],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume", "network-interface")],
            tags=dict(args.tags), opts=child)
        self.node_group = aws.eks.NodeGroup(
            f"{name}-node-group",
            cluster_name=args.cluster_name,
            node_group_name=args.node_group_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            version=args.kubernetes_version,
            ami_type=ami_type(size.instance_types),
            capacity_type="ON_DEMAND",
            instance_types=list(size.instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=size.min_size, max_size=size.max_size, desired_size=size.min_size),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=dict(args.labels),
            taints=[aws.eks.NodeGroupTaintArgs(**dict(t)) for t in args.taints],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=self.launch_template.id,
                version=self.launch_template.latest_version.apply(str)),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on),
                                        # The cluster autoscaler owns the current size.
                                        ignore_changes=["scalingConfig.desiredSize"]))
        self.node_group_name = self.node_group.node_group_name
        self.register_outputs({"node_group_name": self.node_group_name})


# --- the cluster --------------------------------------------------------------------------
@dataclass(frozen=True)
class _ServiceRole:
    role: aws.iam.Role
    attachments: list[aws.iam.RolePolicyAttachment]


@dataclass(frozen=True, kw_only=True)
class TenantClusterArgs:
    """Inputs of :class:`TenantCluster`.

    Defaults: Kubernetes :data:`KUBERNETES_VERSION`; private endpoint only
    (``public_access_cidrs`` empty); the :data:`SYSTEM_POOL`; one NAT gateway per zone;
    the zones ``availability_zone_ids`` names (``_platform.yaml`` pins them per region),
    else the first three available zones whose IDs EKS supports
    (:mod:`tenants.regions`); no admin principal (then nothing, not even the deployer,
    can use the Kubernetes API: give at least one). ``availability_zones`` (names) is
    for tests only: names differ per account.
    """

    names: ClusterNames
    vpc_cidr: str
    region: str
    workload_pool: NodePoolSize
    system_pool: NodePoolSize = SYSTEM_POOL
    kubernetes_version: str = KUBERNETES_VERSION
    #: CIDRs allowed to reach a public API endpoint; empty means private endpoint only.
    public_access_cidrs: Sequence[str] = ()
    #: Cluster-admin principals (logical key -> IAM role ARN), as explicit access entries.
    admin_principals: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    #: Role the Kubernetes provider assumes to authenticate (one of the admin principals).
    kubeconfig_role_arn: pulumi.Input[str] | None = None
    #: Tags on every AWS resource (a dedicated tenant's tenant/tier tags, or the cell's).
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Whether node-tier tenants may get dedicated pools in this cluster (cells only).
    dedicated_pools: bool = True
    availability_zones: Sequence[str] | None = None
    #: Zone IDs the cluster spans, in subnet order (``_platform.yaml`` ``availability_zones``).
    availability_zone_ids: Sequence[str] = ()
    single_nat_gateway: bool = False
    partition: str = "aws"
    #: The region's deploy runner: its private path to the API and databases
    #: (:mod:`components.deploy_runner`); None: ``pulumi up`` runs inside the VPC.
    deploy_runner: DeployRunner | None = None
    #: Who provides the account's EC2 Auto Scaling service-linked role, which the volume
    #: keys name (KMS refuses a key policy naming a missing principal): ``bootstrap``, the
    #: account bootstrap created it (as it creates the platform admin role: the platform
    #: account, where several cells share it); ``declare``, this stack declares it and its
    #: volumes key waits for it (the one stack of a dedicated tenant's own account). Two
    #: stacks of one account must never both declare it: the second create would fail.
    autoscaling_role: Literal["bootstrap", "declare"] = "bootstrap"
    #: ``serving``: the whole cluster. ``released``: the same, with EKS deletion protection
    #: off, so that the next update may remove it (an offboarded dedicated tenant between
    #: its two updates). ``data``: what the retired tenant's data needs and nothing else
    #: (see :class:`TenantCluster`): keys, log groups, VPC, private subnets and the deploy
    #: runner's path to the database.
    mode: ClusterMode = "serving"
    #: ``offboard --destroy-data`` phase 1: keys and log groups neither protected nor retained.
    release_data: bool = False


class TenantCluster(pulumi.ComponentResource):
    """A cell's host cluster or a dedicated tenant's cluster, with its VPC (see module doc).

    Outputs: ``cluster_name``, ``kubeconfig`` (secret), ``oidc_provider_arn``,
    ``oidc_provider_url``, ``oidc_issuer``, ``vpc_id``, ``private_subnet_ids``,
    ``public_subnet_ids``, ``node_security_group_id``, ``node_role_arn``,
    ``secrets_key_arn``, ``volume_key_arn``. ``provider`` is the cluster's Kubernetes
    provider and :meth:`ref` the :class:`ClusterRef` tenant components take.

    ``mode="data"`` (an offboarded dedicated tenant's stack) declares only what keeps the
    tenant's data: the three keys and their aliases, the two retained log groups, the
    Auto Scaling role (retained, the account's), the VPC with its emptied default group,
    its flow log, the private subnets and route tables (for the database's subnet group)
    and the deploy runner's path (for the database bootstrap). No EKS cluster, node
    groups, add-ons, IAM roles of the cluster, OIDC provider, API security group, internet
    or NAT gateways, EIPs, public subnets or Kubernetes provider: its ``ref()`` says
    ``serving=False`` and carries no provider, and its cluster outputs are empty strings.
    """

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    node_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    secrets_key_arn: pulumi.Output[str]
    volume_key_arn: pulumi.Output[str]
    provider: k8s.Provider | None

    def __init__(self, name: str, args: TenantClusterArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        access = endpoint_access(args.public_access_cidrs)
        # Check the CIDR and the zones given before declaring anything; names come from EC2.
        subnet_layout(args.vpc_cidr, list(args.availability_zones or args.availability_zone_ids
                                          or [f"zone-{i}" for i in range(ZONE_COUNT)]))
        super().__init__("tenant-platform:index:TenantCluster", name, None, opts)
        zones = list(args.availability_zones or cluster_zones(args.region, args.availability_zone_ids, self))
        layout = subnet_layout(args.vpc_cidr, zones)
        self._name, self._args = name, args
        names = args.names
        self._tags = dict(args.tags)
        self._account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        keys = self._keys()
        self.secrets_key_arn = keys["eks"].arn
        self.volume_key_arn = keys["volumes"].arn
        self._network(layout, keys["logs"])
        self.provider = None
        if args.mode == "data":
            self._data_only(names.control_plane_log_group, keys["logs"])
            return
        api_group = deploy_runner.api_security_group(
            name, self, group_name=names.api_security_group, cluster=names.cluster, vpc_id=self.vpc_id,
            runner_group_ids=self._runner.security_group_ids if self._runner else (), tags=self._tags)

        control_plane_logs = self._log_group("control-plane-logs", names.control_plane_log_group,
                                             keys["logs"])
        cluster_role = self._role("cluster-role", "cluster",
                                  service_trust_policy("eks.amazonaws.com",
                                                       actions=("sts:AssumeRole", "sts:TagSession")),
                                  CLUSTER_ROLE_POLICIES)
        encryption = aws.iam.RolePolicy(
            f"{name}-cluster-role-encryption", role=cluster_role.role.name,
            policy=_json(self.secrets_key_arn, cluster_encryption_policy), opts=self._child())
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=names.cluster,
            role_arn=cluster_role.role.arn,
            version=args.kubernetes_version,
            vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=self.private_subnet_ids,
                                                    security_group_ids=[api_group.id], **access),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode=AUTHENTICATION_MODE,
                bootstrap_cluster_creator_admin_permissions=False),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=self.secrets_key_arn)),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            bootstrap_self_managed_addons=False,
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            deletion_protection=args.mode == "serving",
            tags={**self._tags, "Name": names.cluster},
            opts=self._child(depends_on=[*cluster_role.attachments, encryption, control_plane_logs]))
        self.cluster_name = cluster.name
        self.node_security_group_id = cluster.vpc_config.apply(
            lambda vpc: vpc.cluster_security_group_id or "")
        self.oidc_provider_url = cluster.identities.apply(_issuer)
        self.oidc_issuer = self.oidc_provider_url.apply(lambda url: url.removeprefix("https://"))
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=self.oidc_provider_url, client_id_lists=["sts.amazonaws.com"],
            tags=self._tags, opts=self._child())
        self.oidc_provider_arn = oidc.arn

        admin_grants = self._admin_access(cluster)
        node_role = self._role("node-role", "nodes", service_trust_policy("ec2.amazonaws.com"),
                               NODE_ROLE_POLICIES)
        self.node_role_arn = node_role.role.arn
        before_nodes = [
            self._addon("vpc-cni", cluster, vpc_cni_configuration(),
                        self._irsa_role("vpc-cni", VPC_CNI_SERVICE_ACCOUNT, [VPC_CNI_POLICY])),
            self._addon("kube-proxy", cluster),
        ]
        pools = [
            self.node_pool("system", args.system_pool, labels={POOL_LABEL: "system"},
                           taints=[SYSTEM_TAINT], depends_on=[*node_role.attachments, *before_nodes]),
            self.node_pool("workload", args.workload_pool, labels={POOL_LABEL: "workload"},
                           depends_on=[*node_role.attachments, *before_nodes]),
        ]
        ebs_role = self._irsa_role("ebs-csi", EBS_CSI_SERVICE_ACCOUNT, [EBS_CSI_POLICY],
                                   inline=_json(self.volume_key_arn, ebs_csi_key_policy))
        after_nodes = [
            self._addon("coredns", cluster, depends_on=pools),
            self._addon("aws-ebs-csi-driver", cluster, ebs_csi_configuration(self._tags), ebs_role,
                        depends_on=pools),
        ]

        # Resolves only once the provider can authenticate and pods can run (module doc).
        gate = [r.urn for r in [*admin_grants, *before_nodes, *after_nodes, *(p.node_group for p in pools),
                                *(self._runner.resources if self._runner else ())]]
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.apply(lambda ca: ca.data or ""),
            args.kubeconfig_role_arn, *gate,
        ).apply(lambda v: json.dumps(kubeconfig(v[0], v[1], v[2], args.region, v[3]))))
        # The cluster's name, not its kubeconfig, identifies it: a changed or not yet known
        # kubeconfig must never replace the provider (and with it every Kubernetes object).
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig,
                                     enable_server_side_apply=True, cluster_identifier=names.cluster,
                                     opts=self._child())
        self._register()

    def _data_only(self, control_plane_log_group: str, logs_key: aws.kms.Key) -> None:
        """The rest of a data-only cluster: its control-plane log group, and empty outputs."""
        self._log_group("control-plane-logs", control_plane_log_group, logs_key)
        empty = pulumi.Output.from_input("")
        self.cluster_name = self.kubeconfig = self.oidc_provider_arn = empty
        self.oidc_provider_url = self.oidc_issuer = self.node_security_group_id = empty
        self.node_role_arn = empty
        self._register()

    def _register(self) -> None:
        self.register_outputs({
            "cluster_name": self.cluster_name, "kubeconfig": self.kubeconfig,
            "oidc_provider_arn": self.oidc_provider_arn, "oidc_provider_url": self.oidc_provider_url,
            "oidc_issuer": self.oidc_issuer, "vpc_id": self.vpc_id,
            "private_subnet_ids": self.private_subnet_ids, "public_subnet_ids": self.public_subnet_ids,
            "node_security_group_id": self.node_security_group_id, "node_role_arn": self.node_role_arn,
            "secrets_key_arn": self.secrets_key_arn, "volume_key_arn": self.volume_key_arn,
        })

    # --- public helpers ----------------------------------------------------------------
    def ref(self) -> ClusterRef:
        """What tenant components need from this cluster."""
        args = self._args
        return ClusterRef(
            name=self.cluster_name, provider=self.provider, serving=args.mode != "data",
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_issuer=self.oidc_issuer, vpc_id=self.vpc_id, vpc_cidr=args.vpc_cidr,
            private_subnet_ids=self.private_subnet_ids,
            node_security_group_id=self.node_security_group_id, region=args.region,
            account_id=self._account_id, partition=args.partition,
            kubernetes_version=args.kubernetes_version, dedicated_pools=args.dedicated_pools,
            tags=dict(args.tags),
            runner_security_group_ids=self._runner.security_group_ids if self._runner else (),
            runner_path=tuple(self._runner.resources if self._runner else ()))

    def node_pool(self, group: str, size: NodePoolSize, *, labels: Mapping[str, str],
                  taints: Sequence[Mapping[str, str]] = (),
                  depends_on: Sequence[pulumi.Resource] = ()) -> NodePool:
        """One of this cluster's own node groups, on its node role, subnets and volume key."""
        return NodePool(f"{self._name}-{group}", NodePoolArgs(
            cluster_name=self.cluster_name, node_group_name=group,
            launch_template_name=self._args.names.launch_template(group),
            node_role_arn=self.node_role_arn, subnet_ids=self.private_subnet_ids, size=size,
            volume_key_arn=self.volume_key_arn, kubernetes_version=self._args.kubernetes_version,
            labels=labels, taints=taints, tags=self._tags, depends_on=depends_on),
            pulumi.ResourceOptions(parent=self))

    # --- pieces ------------------------------------------------------------------------
    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _data(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """A data-bearing resource: protected and retained, unless ``release_data``."""
        keep = not self._args.release_data
        return pulumi.ResourceOptions(parent=self, protect=keep, retain_on_delete=keep, **kwargs)

    def _keys(self) -> dict[str, aws.kms.Key]:
        args, names = self._args, self._args.names
        log_groups = [names.control_plane_log_group, names.flow_log_group]
        if args.kubeconfig_role_arn is None:
            raise ValueError(f"cluster {names.cluster}: give kubeconfig_role_arn, the platform admin "
                             "role: it administers the cluster's keys")

        def role(account: str, purpose: str) -> str:
            return f"arn:{args.partition}:iam::{account}:role/{names.role(purpose)}"

        policies: dict[str, Callable[[str, str], dict[str, Any]]] = {
            "eks": lambda account, admin: secrets_key_policy(
                account, args.partition, admin_role_arn=admin, users=[role(account, "cluster"), admin]),
            "volumes": lambda account, admin: volume_key_policy(
                account, args.partition, admin_role_arn=admin, users=[role(account, "ebs-csi")]),
            "logs": lambda account, admin: logs_key_policy(
                account, args.region, log_groups, args.partition, admin_role_arn=admin),
        }
        waits: dict[str, list[pulumi.Resource]] = {"volumes": list(self._autoscaling_role())}
        descriptions = {"eks": "envelope encryption of Kubernetes secrets",
                        "volumes": "node root volumes and the default StorageClass",
                        "logs": "control-plane and VPC flow log groups"}
        keys = {}
        for purpose in KEY_PURPOSES:
            keys[purpose] = aws.kms.Key(
                f"{self._name}-{purpose}-key",
                description=f"{names.cluster}: {descriptions[purpose]}",
                enable_key_rotation=True, deletion_window_in_days=30,
                policy=self._key_policy(policies[purpose], waits.get(purpose, [])),
                tags=self._tags, opts=self._data(depends_on=waits.get(purpose, [])))
            aws.kms.Alias(f"{self._name}-{purpose}-key-alias", name=names.kms_alias(purpose),
                          target_key_id=keys[purpose].key_id, opts=self._child())
        return keys

    def _key_policy(self, build: Callable[[str, str], dict[str, Any]],
                    waits: Sequence[pulumi.Resource]) -> pulumi.Output[str]:
        """A key policy from (account, admin role); computed after ``waits`` (their URNs)."""
        after = [w.urn for w in waits]
        return pulumi.Output.all(self._account_id, self._args.kubeconfig_role_arn, *after).apply(
            lambda v: json.dumps(build(str(v[0]), str(v[1]))))

    def _autoscaling_role(self) -> list[aws.iam.ServiceLinkedRole]:
        """The Auto Scaling service-linked role, when this stack owns it (``autoscaling_role``).

        Retained on delete: it is the account's, and deleting a stack must not take it from
        node groups of other stacks (IAM refuses while it is in use anyway).
        """
        if self._args.autoscaling_role != "declare":
            return []
        return [aws.iam.ServiceLinkedRole(
            f"{self._name}-autoscaling-role", aws_service_name=docs.AUTOSCALING_SERVICE,
            description="EC2 Auto Scaling (managed node groups), declared by the account's one stack",
            # Tagged with its owner like everything else: the stack's removal of it (a
            # dedicated tenant's data destroyed) is then that tenant's recorded change.
            tags=self._tags, opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True))]

    def _log_group(self, role: str, log_group: str, key: aws.kms.Key) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._name}-{role}", name=log_group, retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=key.arn, tags=self._tags, opts=self._data())

    def _network(self, layout: Sequence[Any], logs_key: aws.kms.Key) -> None:
        name, args = self._name, self._args
        cluster = args.names.cluster
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.vpc_cidr, enable_dns_hostnames=True,
                          enable_dns_support=True, tags={**self._tags, "Name": cluster},
                          opts=self._child())
        self.vpc_id = vpc.id
        # The default security group allows all traffic among its members: empty it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
                                     tags={**self._tags, "Name": f"{cluster}-default"},
                                     opts=self._child())
        # A data-only VPC (offboarded dedicated tenant) has no way out: nothing in it runs.
        serving = args.mode != "data"
        if serving:
            igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id,
                                          tags={**self._tags, "Name": cluster}, opts=self._child())
            public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id,
                                           tags={**self._tags, "Name": f"{cluster}-public"},
                                           opts=self._child())
            aws.ec2.Route(f"{name}-public-default-route", route_table_id=public_rt.id,
                          destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=self._child())
        private: list[aws.ec2.Subnet] = []
        public: list[aws.ec2.Subnet] = []
        nats: list[aws.ec2.NatGateway] = []
        private_tables: dict[str, pulumi.Output[str]] = {}
        for zone in layout:
            kinds = [("public", zone.public, public)] if serving else []
            for kind, cidr, subnets in (*kinds, ("private", zone.private, private)):
                subnets.append(aws.ec2.Subnet(
                    f"{name}-{kind}-{zone.zone}", vpc_id=vpc.id, cidr_block=cidr,
                    availability_zone=zone.zone, map_public_ip_on_launch=False,
                    tags={**self._tags, **subnet_tags(cluster, public=kind == "public"),
                          "Name": f"{cluster}-{kind}-{zone.zone}"},
                    opts=self._child()))
            rt = aws.ec2.RouteTable(f"{name}-private-{zone.zone}-rt", vpc_id=vpc.id,
                                    tags={**self._tags, "Name": f"{cluster}-private-{zone.zone}"},
                                    opts=self._child())
            aws.ec2.RouteTableAssociation(f"{name}-private-{zone.zone}-rta", subnet_id=private[-1].id,
                                          route_table_id=rt.id, opts=self._child())
            private_tables[zone.zone] = rt.id
            if not serving:
                continue
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone.zone}-rta", subnet_id=public[-1].id,
                                          route_table_id=public_rt.id, opts=self._child())
            if not nats or not args.single_nat_gateway:
                eip = aws.ec2.Eip(f"{name}-nat-{zone.zone}-eip", domain="vpc",
                                  tags={**self._tags, "Name": f"{cluster}-nat-{zone.zone}"},
                                  opts=self._child(depends_on=[igw]))
                nats.append(aws.ec2.NatGateway(
                    f"{name}-nat-{zone.zone}", allocation_id=eip.id, subnet_id=public[-1].id,
                    connectivity_type="public", tags={**self._tags, "Name": f"{cluster}-{zone.zone}"},
                    opts=self._child(depends_on=[igw])))
            aws.ec2.Route(f"{name}-private-{zone.zone}-default-route", route_table_id=rt.id,
                          destination_cidr_block="0.0.0.0/0", nat_gateway_id=nats[-1].id,
                          opts=self._child())
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self._runner: deploy_runner.RunnerPath | None = None
        if args.deploy_runner is not None:
            self._runner = deploy_runner.connect_runner(
                name, self, runner=args.deploy_runner, cluster=cluster, vpc_id=vpc.id,
                subnet_ids=[s.id for s in private], route_tables=private_tables, tags=self._tags)
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])

        flow_logs = self._log_group("flow-logs", args.names.flow_log_group, logs_key)
        flow_role = aws.iam.Role(
            f"{name}-flow-logs-role", name=args.names.role("flow-logs"),
            description=f"VPC flow logs of {cluster}",
            assume_role_policy=_json(self._account_id, lambda account: service_trust_policy(
                "vpc-flow-logs.amazonaws.com", source_account=account)),
            tags=self._tags, opts=self._child())
        flow_policy = aws.iam.RolePolicy(f"{name}-flow-logs-role-policy", role=flow_role.name,
                                         policy=_json(flow_logs.arn, flow_log_policy),
                                         opts=self._child())
        aws.ec2.FlowLog(f"{name}-flow-log", vpc_id=vpc.id, traffic_type="ALL",
                        log_destination_type="cloud-watch-logs", log_destination=flow_logs.arn,
                        iam_role_arn=flow_role.arn, max_aggregation_interval=60,
                        tags={**self._tags, "Name": cluster},
                        opts=self._child(depends_on=[flow_policy]))

    def _role(self, role: str, purpose: str, trust: pulumi.Input[Any],
              managed: Sequence[str]) -> _ServiceRole:
        resource = aws.iam.Role(
            f"{self._name}-{role}", name=self._args.names.role(purpose),
            description=f"{purpose} of EKS cluster {self._args.names.cluster}",
            assume_role_policy=trust if isinstance(trust, pulumi.Output) else json.dumps(trust),
            tags=self._tags, opts=self._child())
        attachments = [aws.iam.RolePolicyAttachment(
            f"{self._name}-{role}-{policy.rsplit('/', 1)[-1]}", role=resource.name,
            policy_arn=_managed_policy(self._args.partition, policy), opts=self._child())
            for policy in managed]
        return _ServiceRole(resource, attachments)

    def _irsa_role(self, addon: str, service_account: tuple[str, str], managed: Sequence[str],
                   inline: pulumi.Output[str] | None = None) -> aws.iam.Role:
        namespace, account = service_account
        trust = pulumi.Output.all(self.oidc_provider_arn, self.oidc_issuer).apply(
            lambda v: json.dumps(irsa_trust_policy(v[0], v[1], namespace, account)))
        role = self._role(f"{addon}-role", addon, trust, managed)
        if inline is not None:
            aws.iam.RolePolicy(f"{self._name}-{addon}-role-policy", role=role.role.name, policy=inline,
                               opts=self._child())
        return role.role

    def _addon(self, addon: str, cluster: aws.eks.Cluster, configuration: Mapping[str, Any] | None = None,
               role: aws.iam.Role | None = None,
               depends_on: Sequence[pulumi.Resource] = ()) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{self._name}-addon-{addon}", cluster_name=cluster.name, addon_name=addon,
            addon_version=eks_addon(addon),
            configuration_values=json.dumps(configuration) if configuration else None,
            service_account_role_arn=role.arn if role is not None else None,
            # The configuration here is the whole truth: overwrite drift on create and update.
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            tags=self._tags, opts=self._child(depends_on=list(depends_on)))

    def _admin_access(self, cluster: aws.eks.Cluster) -> list[aws.eks.AccessPolicyAssociation]:
        grants = []
        policy_arn = f"arn:{self._args.partition}:eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}"
        for key, principal in sorted(self._args.admin_principals.items()):
            entry = aws.eks.AccessEntry(f"{self._name}-access-{key}", cluster_name=cluster.name,
                                        principal_arn=principal, type="STANDARD", tags=self._tags,
                                        opts=self._child())
            grants.append(aws.eks.AccessPolicyAssociation(
                f"{self._name}-access-{key}-cluster-admin", cluster_name=cluster.name,
                principal_arn=principal, policy_arn=policy_arn,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=self._child(depends_on=[entry])))
        return grants
