"""ISO-NET-08 (stack by design): every VPC has flow logs for all traffic."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import aws, stackview
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_NO_FLOW_LOG = "Add a FlowLog with trafficType ALL for the VPC."
MSG_TRAFFIC_TYPE = "Set trafficType to ALL on the VPC flow log."


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    vpcs = {r.urn: aws.physical_names(r.props) + [r.name] for r in resources
            if r.type in aws.VPC_TYPES and cfg.applies(r)}
    logged: set[str] = set()
    for res in resources:
        if res.type != aws.FLOW_LOG:
            continue
        if res.props.get("trafficType") != "ALL":
            yield Finding(MSG_TRAFFIC_TYPE, res.urn)
        vpc = stackview.linked(res, "vpcId", vpcs)
        if vpc is not None:
            logged.add(vpc)
    for urn in vpcs:
        if urn not in logged:
            yield Finding(MSG_NO_FLOW_LOG, urn)


RULE = StackRule(
    id="ISO-NET-08",
    description="Every VPC has a flow log recording all traffic.",
    severity="medium", tiers="NPVD", scope="all", check=check,
    reads=lambda t: t in aws.VPC_TYPES or t == aws.FLOW_LOG)
