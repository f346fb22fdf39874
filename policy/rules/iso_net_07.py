"""ISO-NET-07: no security-group ingress from anywhere; SGP in standard mode with NetworkPolicy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import aws, cidr
from policy.props import as_list, as_map, as_str_list, number
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_OPEN_INGRESS = ("Remove 0.0.0.0/0 and ::/0 from security-group ingress "
                    "(only ports in option publicIngressPorts may be public).")
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


def _open_ingress(res: Resource, allowed: list[int]) -> bool:
    props = res.props
    if res.type == aws.SECURITY_GROUP:
        rules = [as_map(r) for r in as_list(props.get("ingress"))]
        return any(any(cidr.is_open(c) for c in as_str_list(r.get("cidrBlocks"))
                       + as_str_list(r.get("ipv6CidrBlocks")))
                   and not _ports_public(r, "fromPort", "toPort", "protocol", allowed)
                   for r in rules)
    if res.type == aws.SECURITY_GROUP_RULE:
        blocks = as_str_list(props.get("cidrBlocks")) + as_str_list(props.get("ipv6CidrBlocks"))
        return (props.get("type") == "ingress" and any(cidr.is_open(c) for c in blocks)
                and not _ports_public(props, "fromPort", "toPort", "protocol", allowed))
    blocks = as_str_list(props.get("cidrIpv4")) + as_str_list(props.get("cidrIpv6"))
    return (any(cidr.is_open(c) for c in blocks)
            and not _ports_public(props, "fromPort", "toPort", "ipProtocol", allowed))


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
        "No security group admits ingress from 0.0.0.0/0 or ::/0, and Security Groups for Pods "
        "run in standard mode when NetworkPolicy is on."
    ),
    severity="high", tiers="NPVD", scope="all",
    options={"publicIngressPorts": {
        "type": "array", "items": {"type": "integer"}, "default": [],
        "description": "Ports that may accept ingress from anywhere (e.g. 443 of a public load balancer)."}},
    applies_to=lambda t: t in aws.SECURITY_GROUP_TYPES or t == aws.ADDON, check=check)
