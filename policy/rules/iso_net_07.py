"""ISO-NET-07: no security-group ingress from anywhere; SGP in standard mode with NetworkPolicy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import aws, cidr
from policy.props import as_list, as_map, as_str_list, number
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_OPEN_INGRESS = ("Remove 0.0.0.0/0, ::/0 and any split of them (0.0.0.0/1 + 128.0.0.0/1, "
                    "public ranges of a /12 or more) from security-group ingress (only ports in "
                    "option publicIngressPorts may be public).")
MSG_SGP_MODE = ("Set POD_SECURITY_GROUP_ENFORCING_MODE=standard in the vpc-cni add-on while "
                "Security Groups for Pods and NetworkPolicy are both on.")


def _ports_public(rule: Mapping[str, Any], start_key: str, end_key: str, protocol_key: str,
                  allowed: list[int]) -> bool:
    """Whether an open rule's port range lies entirely within the allowed public ports."""
    if str(rule.get(protocol_key)) in ("-1", "all"):
        return False
    start, end = number(rule.get(start_key)), number(rule.get(end_key))
    if start is None or end is None:
        return False
    return all(p in allowed for p in range(int(start), int(end) + 1))


def _blocks(rule: Mapping[str, Any], *keys: str) -> list[str]:
    return [c for k in keys for c in as_str_list(rule.get(k))]


def _open_ingress(res: Resource, allowed: list[int]) -> bool:
    """Whether the ingress the resource grants on non-public ports covers the internet.

    The blocks of every such rule of the resource count together (``0.0.0.0/1`` in one rule,
    ``128.0.0.0/1`` in the next is 0.0.0.0/0).
    """
    props = res.props
    if res.type == aws.SECURITY_GROUP:
        rules = [as_map(r) for r in as_list(props.get("ingress"))]
        blocks = [c for r in rules if not _ports_public(r, "fromPort", "toPort", "protocol", allowed)
                  for c in _blocks(r, "cidrBlocks", "ipv6CidrBlocks")]
    elif res.type == aws.SECURITY_GROUP_RULE:
        if props.get("type") != "ingress" or _ports_public(props, "fromPort", "toPort", "protocol", allowed):
            return False
        blocks = _blocks(props, "cidrBlocks", "ipv6CidrBlocks")
    else:
        if _ports_public(props, "fromPort", "toPort", "ipProtocol", allowed):
            return False
        blocks = _blocks(props, "cidrIpv4", "cidrIpv6")
    return cidr.is_open(blocks)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if res.type == aws.ADDON:
        config = aws.addon_config(res.props)
        env = as_map(config.get("env"))
        if aws.cni_network_policy_enabled(config) and str(env.get("ENABLE_POD_ENI")).lower() == "true" \
                and env.get("POD_SECURITY_GROUP_ENFORCING_MODE") != "standard":
            yield MSG_SGP_MODE
    elif _open_ingress(res, [int(p) for p in cfg.option("publicIngressPorts")]):
        yield MSG_OPEN_INGRESS


RULE = ResourceRule(
    id="ISO-NET-07",
    description=(
        "No security group admits ingress from the internet (0.0.0.0/0, ::/0 or any split of them), "
        "and Security Groups for Pods "
        "run in standard mode when NetworkPolicy is on."
    ),
    severity="high", tiers="NPVD", scope="all",
    options={"publicIngressPorts": {
        "type": "array", "items": {"type": "integer"}, "default": [],
        "description": "Ports that may accept ingress from anywhere (e.g. 443 of a public load balancer)."}},
    applies_to=lambda t: t in aws.SECURITY_GROUP_TYPES or t == aws.ADDON, check=check)
