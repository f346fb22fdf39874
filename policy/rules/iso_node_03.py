"""ISO-NODE-03: launch templates require IMDSv2 with a hop limit of 1."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import as_map, number
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_HTTP_TOKENS = "Set metadataOptions.httpTokens to 'required' (IMDSv2 only)."
MSG_HOP_LIMIT = "Set metadataOptions.httpPutResponseHopLimit to 1 so pods cannot reach IMDS."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    options = as_map(res.props.get("metadataOptions"))
    if options.get("httpTokens") != "required":
        yield MSG_HTTP_TOKENS
    if number(options.get("httpPutResponseHopLimit")) != 1:
        yield MSG_HOP_LIMIT


RULE = ResourceRule(
    id="ISO-NODE-03",
    description="Node launch templates require IMDSv2 tokens with a response hop limit of 1.",
    severity="critical", tiers="NPVD", scope="all",
    applies_to=lambda t: t == aws.LAUNCH_TEMPLATE, check=check)
