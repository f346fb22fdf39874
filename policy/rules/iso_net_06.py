"""ISO-NET-06: LoadBalancer Services are internal and restricted to source ranges."""

from __future__ import annotations

from collections.abc import Iterator

from policy import cidr, kube
from policy.props import as_list
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_INTERNAL = ("Make the LoadBalancer Service internal "
                "(service.beta.kubernetes.io/aws-load-balancer-scheme: internal).")
MSG_SOURCE_RANGES = "Restrict spec.loadBalancerSourceRanges to known CIDRs, never 0.0.0.0/0 or a split of it."

SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
LEGACY_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    spec = kube.spec(res.props)
    if spec.get("type") != "LoadBalancer":
        return
    annotations = kube.annotations_of(res.props)
    if annotations.get(SCHEME) != "internal" and annotations.get(LEGACY_INTERNAL) not in ("true", True):
        yield MSG_INTERNAL
    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    if not ranges or cidr.is_open(ranges):
        yield MSG_SOURCE_RANGES


RULE = ResourceRule(
    id="ISO-NET-06",
    description=(
        "Tenant LoadBalancer Services are explicitly internal and limited to source ranges."
    ),
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=kube.matcher("Service"), check=check)
