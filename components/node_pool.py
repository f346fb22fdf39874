"""TenantNodePool: the dedicated managed node group of a ``node``-tier tenant.

The pool is fenced from both sides. Its nodes carry the tenant label and the taint
``tenant=<id>:NoSchedule``, so other tenants' pods (which never tolerate it) stay off;
the tenant's own pods carry the matching node selector and toleration
(:func:`components.scheduling.pod_placement`), so they stay on (ISO-NODE-01/02).

The nodes are hardened like every node of the platform (ISO-NODE-03..06): IMDSv2 only
with a hop limit of 1, so a pod cannot read the node role's credentials through the
metadata service; no SSH key or ``remoteAccess`` (Systems Manager instead); root volumes
encrypted with a KMS key of the tenant's own; private subnets only. The node role is the
minimum a node needs: join the cluster, pull images, be reachable by SSM. The VPC CNI's
permissions belong to the ``aws-node`` service account (IRSA), not to the node.

The node group itself is :class:`components.cluster.NodePool`, the one hardened
managed node group (launch template, IMDS options, encrypted root volume) every cluster of
the platform uses; this component adds what makes it the tenant's: its label and taint,
its own node role and its own volume key.

The volume key follows the pool: it is not data-bearing, so it is neither protected nor
retained (:meth:`components.context.TenantContext.data_options` is for what holds data).
It encrypts only the root volumes of the pool's nodes (its key policy lets EC2 Auto
Scaling use it and no one else: the EBS CSI driver's volume claims use the cluster's
``volumes`` key through the default StorageClass), and those volumes are deleted when
their node terminates (:class:`components.cluster.NodePool`, ``delete_on_termination``).
Once the node group is gone nothing is encrypted by it, so deleting it loses nothing, and
KMS keeps it pending deletion for the longest window it allows (30 days) in case
something unforeseen still needs it. The node group depends on it (through the launch
template that names it), so Pulumi deletes the key after the nodes, never before. That is
what lets a tenant leave the ``node`` tier in place (``tenantctl migrate``) and be
offboarded without a pool: a retired tenant runs nothing, so it declares no pool at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam_documents as docs
from components import scheduling
from components.cluster import (
    NODE_ROLE_POLICIES,
    NodePool,
    NodePoolArgs,
    service_trust_policy,
    volume_key_policy,
)
from components.context import ClusterRef, TenantContext

#: KMS's longest pending-deletion window (7..30 days) for the pool's volume key.
VOLUME_KEY_DELETION_WINDOW_DAYS = 30


def eks_taint(tenant_id: str) -> dict[str, str]:
    """The pool's taint as the EKS API spells it (same key and value as the pods tolerate)."""
    taint = scheduling.pool_taint(tenant_id)
    return {"key": taint["key"], "value": taint["value"], "effect": scheduling.EKS_TAINT_EFFECT}


@dataclass(frozen=True, kw_only=True)
class TenantNodePoolArgs:
    """Inputs of :class:`TenantNodePool`: the tenant and the cluster that must allow pools."""

    ctx: TenantContext
    cluster: ClusterRef


class TenantNodePool(pulumi.ComponentResource):
    """A hardened managed node group only the tenant's pods can use."""

    pool: NodePool
    node_group: aws.eks.NodeGroup
    node_group_name: pulumi.Output[str]
    role: aws.iam.Role
    volume_key: aws.kms.Key

    def __init__(self, name: str, args: TenantNodePoolArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        ctx, cluster = args.ctx, args.cluster
        if not scheduling.has_dedicated_pool(ctx.tier):
            raise ValueError(f"tenant {ctx.id!r} is on tier {ctx.tier.value!r}: only node-tier "
                             "tenants get a dedicated node pool")
        if not cluster.dedicated_pools:
            raise ValueError(f"cluster {cluster.name!r} does not allow dedicated node pools: "
                             f"node-tier tenant {ctx.id!r} must be placed in a cell with "
                             "dedicated_pools: true")
        if ctx.retired:
            raise ValueError(f"tenant {ctx.id!r} is retired: it runs nothing, so it has no node pool")
        super().__init__("tenant-platform:index:TenantNodePool", name, None, opts)
        names, size = ctx.names, ctx.tenant.plan.node_pool
        child = pulumi.ResourceOptions(parent=self)
        tags = {**ctx.tags, "node-group": names.node_group}

        # Not data-bearing (module docstring): plain options, the longest deletion window.
        self.volume_key = aws.kms.Key(
            f"{name}-volume-key",
            description=f"Root volumes of tenant {ctx.id}'s dedicated nodes",
            enable_key_rotation=True, deletion_window_in_days=VOLUME_KEY_DELETION_WINDOW_DAYS,
            policy=pulumi.Output.from_input(cluster.account_id).apply(
                lambda account: json.dumps(volume_key_policy(
                    account, cluster.partition, admin_role_arn=docs.platform_admin_role_arn(
                        cluster.partition, account, ctx.environment)))),
            tags=tags, opts=child)
        aws.kms.Alias(f"{name}-volume-key-alias", name=names.kms_alias("nodes"),
                      target_key_id=self.volume_key.key_id, opts=child)

        self.role = aws.iam.Role(
            f"{name}-role", name=names.node_role,
            description=f"Nodes of tenant {ctx.id}'s dedicated node group",
            assume_role_policy=json.dumps(service_trust_policy("ec2.amazonaws.com")), tags=tags,
            opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{policy}", role=self.role.name,
                policy_arn=f"arn:{cluster.partition}:iam::aws:policy/{policy}", opts=child)
            for policy in NODE_ROLE_POLICIES
        ]

        self.pool = NodePool(f"{name}-nodes", NodePoolArgs(
            cluster_name=cluster.name, node_group_name=names.node_group,
            launch_template_name=names.node_launch_template, node_role_arn=self.role.arn,
            subnet_ids=cluster.private_subnet_ids, size=size, volume_key_arn=self.volume_key.arn,
            kubernetes_version=cluster.kubernetes_version, labels=scheduling.pool_labels(ctx.id),
            taints=[eks_taint(ctx.id)], tags=tags, depends_on=attachments), child)
        self.node_group = self.pool.node_group
        self.node_group_name = self.pool.node_group_name
        self.register_outputs({"node_group": self.node_group, "node_group_name": self.node_group_name,
                               "role": self.role, "volume_key": self.volume_key})
