"""ISO-NET-02: no all-namespace selectors; open ipBlocks exclude cluster and VPC ranges."""

from __future__ import annotations

from collections.abc import Iterator

from policy import cidr, kube, network
from policy.props import as_list, as_map, is_map, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_ALL_NAMESPACES = ("Replace namespaceSelector {} (every namespace) with a selector for the "
                      "tenant's own or named platform namespaces.")
MSG_INTERNAL_RANGES = ("Add the cluster and VPC ranges (option internalCidrs) to the except "
                       "list of every ipBlock that covers them, such as 0.0.0.0/0.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    spec = kube.spec(res.props)
    for direction in (network.INGRESS, network.EGRESS):
        for rule in network.rules(spec, direction):
            for peer in network.peers(rule):
                selector = peer.get("namespaceSelector")
                if is_map(selector) and not as_map(selector).get("matchLabels") \
                        and not as_list(as_map(selector).get("matchExpressions")):
                    yield MSG_ALL_NAMESPACES
    for _direction, block in network.ip_blocks(spec):
        block_cidr = text(block.get("cidr")) or ""
        outer = cidr.network(block_cidr)
        excepts = [e for e in as_list(block.get("except")) if isinstance(e, str)]
        for internal in cfg.option("internalCidrs"):
            inner = cidr.network(internal)
            if outer is None or inner is None or inner.version != outer.version:
                continue
            if inner.subnet_of(outer) and not cidr.excluded(block_cidr, excepts, internal):  # type: ignore[arg-type]
                yield MSG_INTERNAL_RANGES


RULE = ResourceRule(
    id="ISO-NET-02",
    description=(
        "Tenant NetworkPolicies never select all namespaces, and any ipBlock wide enough to cover"
        " cluster or VPC ranges excepts them."
    ),
    severity="high", tiers="NPV", scope="tenant",
    options={"internalCidrs": {
        "type": "array", "items": {"type": "string"},
        "default": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        "description": "Cluster, service and VPC ranges wide ipBlocks must except."}},
    applies_to=network.is_network_policy, check=check)
