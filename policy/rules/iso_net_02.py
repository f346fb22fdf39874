"""ISO-NET-02: no all-namespace selectors; open ipBlocks exclude cluster and VPC ranges."""

from __future__ import annotations

from collections.abc import Iterator

from policy import cidr, kube, network
from policy.props import as_list, as_map, is_map
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_ALL_NAMESPACES = ("Replace namespaceSelector {} (every namespace) with a selector for the "
                      "tenant's own or named platform namespaces.")
MSG_INTERNAL_RANGES = ("Add the cluster and VPC ranges (option internalCidrs) to the except "
                       "list of every ipBlock that reaches both the internet and any of them, such "
                       "as 0.0.0.0/0 or 0.0.0.0/1.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    spec = kube.spec(res.props)
    for direction in (network.INGRESS, network.EGRESS):
        for rule in network.rules(spec, direction):
            for peer in network.peers(rule):
                selector = peer.get("namespaceSelector")
                if is_map(selector) and not as_map(selector).get("matchLabels") \
                        and not as_list(as_map(selector).get("matchExpressions")):
                    yield MSG_ALL_NAMESPACES
    internal = cidr.networks(cfg.option("internalCidrs"))
    for _direction, block in network.ip_blocks(spec):
        reached = network.block_covers(block)
        if cidr.public(reached) and cidr.intersect(reached, internal):
            yield MSG_INTERNAL_RANGES


RULE = ResourceRule(
    id="ISO-NET-02",
    description=(
        "Tenant NetworkPolicies never select all namespaces, and any ipBlock that reaches the "
        "internet excepts every cluster or VPC range it would cover (judged by address space)."
    ),
    severity="high", tiers="NPV", scope="tenant",
    options={"internalCidrs": {
        "type": "array", "items": {"type": "string"},
        "default": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        "description": "Cluster, service and VPC ranges wide ipBlocks must except."}},
    applies_to=network.is_network_policy, check=check)
