"""ISO-EKS-01: the cluster endpoint is private, or public only to known CIDRs."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws, cidr
from policy.props import as_list, is_false
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_PUBLIC_ENDPOINT = ("Make the API endpoint private (endpointPublicAccess false) or restrict "
                       "publicAccessCidrs to known ranges; never 0.0.0.0/0 or a split of it such as "
                       "0.0.0.0/1 + 128.0.0.0/1.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    public = aws.cluster_setting(res.type, res.props, ("vpcConfig", "endpointPublicAccess"),
                                 "endpointPublicAccess")
    if is_false(public):
        return
    cidrs = as_list(aws.cluster_setting(res.type, res.props, ("vpcConfig", "publicAccessCidrs"),
                                        "publicAccessCidrs"))
    if not cidrs or cidr.is_open(cidrs):
        yield MSG_PUBLIC_ENDPOINT


RULE = ResourceRule(
    id="ISO-EKS-01",
    description=(
        "The EKS API endpoint is private, or public only to known CIDRs that together cover less "
        "than a /12 of public space (never 0.0.0.0/0, the default when unset, however split)."
    ),
    severity="critical", tiers="NPVD", scope="all",
    applies_to=lambda t: t in aws.CLUSTER_TYPES, check=check)
