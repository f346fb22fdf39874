"""ISO-NODE-06: nodes sit in private subnets without public IPs, on CMK-encrypted EBS."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import as_list, as_map, is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_PUBLIC_IP = ("Do not give nodes public IPs (associatePublicIpAddress / "
                 "nodeAssociatePublicIpAddress false).")
MSG_EBS_ENCRYPTED = "Declare blockDeviceMappings whose ebs.encrypted is true for every node volume."
MSG_EBS_CMK = "Encrypt node volumes with a customer-managed KMS key (ebs.kmsKeyId)."
MSG_SUBNET_PUBLIC_IP = "Set mapPublicIpOnLaunch to false on the subnet; NAT gateways use Elastic IPs."


def _launch_template(res: Resource) -> Iterator[str]:
    if any(is_true(as_map(n).get("associatePublicIpAddress"))
           for n in as_list(res.props.get("networkInterfaces"))):
        yield MSG_PUBLIC_IP
    volumes = [as_map(as_map(m).get("ebs")) for m in as_list(res.props.get("blockDeviceMappings"))]
    if not volumes or not all(is_true(v.get("encrypted")) for v in volumes):
        yield MSG_EBS_ENCRYPTED
    if not volumes or not all(text(v.get("kmsKeyId")) for v in volumes):
        yield MSG_EBS_CMK


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if res.type == aws.LAUNCH_TEMPLATE:
        yield from _launch_template(res)
    elif res.type == aws.SUBNET:
        if is_true(res.props.get("mapPublicIpOnLaunch")):
            yield MSG_SUBNET_PUBLIC_IP
    elif is_true(res.props.get("nodeAssociatePublicIpAddress")):
        yield MSG_PUBLIC_IP


RULE = ResourceRule(
    id="ISO-NODE-06",
    description=(
        "Nodes run in private subnets without public IPs, on EBS volumes encrypted with a "
        "customer-managed KMS key."
    ),
    severity="high", tiers="NPVD", scope="all",
    applies_to=lambda t: t in (aws.LAUNCH_TEMPLATE, aws.SUBNET, aws.EKS_COMPONENT), check=check)
