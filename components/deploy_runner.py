"""The deploy runner's private path into a cluster's VPC: transit gateway, routes, API access.

``pulumi up`` talks to two private endpoints of every stack: the EKS API (every
Kubernetes object) and the RDS instance (the in-database bootstrap,
:mod:`components.db_provider`). Neither is public, so the machine that runs Pulumi, the
*deploy runner* (a CI runner in a platform tooling VPC, one per region:
:class:`tenants.models.DeployRunner`), needs a network path into each cell's and each
dedicated tenant's VPC:

- the VPC attaches to the region's transit gateway from its private subnets, with
  security-group referencing on, so rules can name the runner's security groups;
- each private route table routes the runner's subnets to the transit gateway (return
  traffic; nothing else is routed there);
- the control plane's extra security group (:func:`api_security_group`, created for every
  cluster so a runner can be added later without replacing the cluster) admits HTTPS
  from the runner's security groups; the database instances admit PostgreSQL from the
  same groups (:class:`components.database.DatabaseServer`).

A rule that names a security group of another VPC is only valid once that VPC and this
one are joined by the transit gateway attachment with security-group referencing on (EC2
rejects the reference before). So rules never take the runner's group ids as plain
strings: they take :attr:`RunnerPath.security_group_ids`, outputs that resolve once the
attachment exists, which puts the attachment into every such rule's dependencies (the
engine creates it first; ``propertyDependencies`` in the plan show it).

Security-group references, not CIDRs: ISO-DATA-03 forbids CIDRs on database ports, and
a group names exactly the runner, not whatever else lives in its subnets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tenants.models import DeployRunner

HTTPS = 443


@dataclass(frozen=True)
class RunnerPath:
    """The runner's way into one VPC: the attachment, its routes, and its groups to reference."""

    attachment: aws.ec2transitgateway.VpcAttachment
    routes: tuple[aws.ec2.Route, ...]
    #: The runner's security groups, each resolving only once the attachment exists.
    security_group_ids: tuple[pulumi.Output[str], ...]

    @property
    def resources(self) -> list[pulumi.Resource]:
        """What must exist before anything connects from the runner (attachment and routes)."""
        return [self.attachment, *self.routes]


def api_security_group(name: str, parent: pulumi.Resource, *, group_name: str, cluster: str,
                       vpc_id: pulumi.Input[str], runner_group_ids: Sequence[pulumi.Input[str]],
                       tags: Mapping[str, str]) -> aws.ec2.SecurityGroup:
    """The control plane's extra security group: HTTPS from the deploy runner, if any.

    EKS attaches it to the control plane's network interfaces only (not to nodes), so
    admitting the runner here opens the API and nothing else. It has no egress: the
    control plane reaches nodes through EKS's own cluster security group.
    ``runner_group_ids``: :attr:`RunnerPath.security_group_ids` (empty without a runner).
    """
    child = pulumi.ResourceOptions(parent=parent)
    group = aws.ec2.SecurityGroup(
        f"{name}-api-sg", name=group_name, vpc_id=vpc_id,
        description=f"EKS API of {cluster}: from the deploy runner only",
        tags={**tags, "Name": group_name}, opts=child)
    for i, source in enumerate(runner_group_ids):
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-api-from-runner-{i}", security_group_id=group.id, referenced_security_group_id=source,
            ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS,
            description="Kubernetes API from the deploy runner", tags=tags, opts=child)
    return group


def connect_runner(name: str, parent: pulumi.Resource, *, runner: DeployRunner, cluster: str,
                   vpc_id: pulumi.Input[str], subnet_ids: Sequence[pulumi.Input[str]],
                   route_tables: Mapping[str, pulumi.Input[str]],
                   tags: Mapping[str, str]) -> RunnerPath:
    """Attach the VPC to the runner's transit gateway and route the runner's subnets to it.

    ``route_tables``: the private route tables by zone (route names follow the zone, so
    they stay put when zones are added). Returns the path: whatever must reach the VPC
    from the runner (the database bootstrap) depends on its resources, and every rule
    naming the runner's groups takes them from it (module doc).
    """
    child = pulumi.ResourceOptions(parent=parent)
    attachment = aws.ec2transitgateway.VpcAttachment(
        f"{name}-runner-attachment", transit_gateway_id=runner.transit_gateway_id, vpc_id=vpc_id,
        subnet_ids=list(subnet_ids), dns_support="enable", security_group_referencing_support="enable",
        ipv6_support="disable", tags={**tags, "Name": f"{cluster}-deploy-runner"}, opts=child)
    routes: list[aws.ec2.Route] = []
    for zone, table in route_tables.items():
        for j, cidr in enumerate(runner.cidrs):
            routes.append(aws.ec2.Route(
                f"{name}-private-{zone}-runner-route-{j}", route_table_id=table, destination_cidr_block=cidr,
                transit_gateway_id=runner.transit_gateway_id,
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[attachment])))
    # The URN resolves once the engine has created the attachment, and is known in previews.
    groups = tuple(_after(attachment, sg) for sg in runner.security_group_ids)
    return RunnerPath(attachment, tuple(routes), groups)


def _after(resource: pulumi.Resource, value: str) -> pulumi.Output[str]:
    """``value``, resolving once ``resource`` exists (its URN resolves when it is created)."""
    return resource.urn.apply(lambda _urn: value)
