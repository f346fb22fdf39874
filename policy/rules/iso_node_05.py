"""ISO-NODE-05: no SSH access to nodes; use SSM."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import as_map, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SSH = "Remove SSH access to nodes (remoteAccess, keyName, nodePublicKey); reach nodes through SSM."

FIELDS = {
    "aws:eks/nodeGroup:NodeGroup": "remoteAccess",
    "eks:index:ManagedNodeGroup": "remoteAccess",
    aws.LAUNCH_TEMPLATE: "keyName",
    aws.EKS_COMPONENT: "nodePublicKey",
}


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    value = res.props.get(FIELDS[res.type])
    if as_map(value) or text(value):
        yield MSG_SSH


RULE = ResourceRule(
    id="ISO-NODE-05",
    description=(
        "Nodes accept no SSH: no node-group remoteAccess, launch-template key pair or cluster "
        "node public key."
    ),
    severity="high", tiers="NPVD", scope="all",
    applies_to=lambda t: t in FIELDS, check=check)
