"""ISO-NODE-03: nodes require IMDSv2 with a hop limit of 1, through their own launch template.

A managed node group without ``launchTemplate`` runs on the launch template EKS generates
with default values, whose metadata options the platform does not set: so a node group
must name its launch template, and every launch template must set the options.
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import as_map, number, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_HTTP_TOKENS = "Set metadataOptions.httpTokens to 'required' (IMDSv2 only)."
MSG_HOP_LIMIT = "Set metadataOptions.httpPutResponseHopLimit to 1 so pods cannot reach IMDS."
MSG_NO_LAUNCH_TEMPLATE = ("Give the node group a launchTemplate (id or name) that requires IMDSv2 "
                          "with hop limit 1; the template EKS generates does not.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if res.type in aws.NODE_GROUP_TYPES:
        template = as_map(res.props.get("launchTemplate"))
        if not (text(template.get("id")) or text(template.get("name"))):
            yield MSG_NO_LAUNCH_TEMPLATE
        return
    options = as_map(res.props.get("metadataOptions"))
    if options.get("httpTokens") != "required":
        yield MSG_HTTP_TOKENS
    if number(options.get("httpPutResponseHopLimit")) != 1:
        yield MSG_HOP_LIMIT


RULE = ResourceRule(
    id="ISO-NODE-03",
    description=("Node launch templates require IMDSv2 tokens with a response hop limit of 1, and "
                 "every node group uses such a launch template."),
    severity="critical", tiers="NPVD", scope="all",
    applies_to=lambda t: t == aws.LAUNCH_TEMPLATE or t in aws.NODE_GROUP_TYPES, check=check)
