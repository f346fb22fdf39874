"""ISO-DATA-03: IAM database authentication; DB ports admit security groups, not CIDRs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import aws
from policy.props import as_list, as_map, as_str_list, is_true, number
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_IAM_AUTH = "Enable iamDatabaseAuthenticationEnabled on the database."
MSG_DB_PORT_CIDR = ("Admit database ports only from the tenant's pod or node security groups, "
                    "never from CIDR ranges.")


def _covers(rule: Mapping[str, Any], ports: list[int], protocol_key: str) -> bool:
    if str(rule.get(protocol_key)) in ("-1", "all"):
        return True
    start, end = number(rule.get("fromPort")), number(rule.get("toPort"))
    return start is not None and end is not None and any(start <= p <= end for p in ports)


def _cidr_rules(res: Resource) -> list[tuple[Mapping[str, Any], str]]:
    props = res.props
    if res.type == aws.SECURITY_GROUP:
        return [(as_map(r), "protocol") for r in as_list(props.get("ingress"))
                if as_str_list(as_map(r).get("cidrBlocks")) or as_str_list(as_map(r).get("ipv6CidrBlocks"))]
    if res.type == aws.SECURITY_GROUP_RULE:
        cidrs = as_str_list(props.get("cidrBlocks")) + as_str_list(props.get("ipv6CidrBlocks"))
        return [(props, "protocol")] if props.get("type") == "ingress" and cidrs else []
    cidrs = as_str_list(props.get("cidrIpv4")) + as_str_list(props.get("cidrIpv6"))
    return [(props, "ipProtocol")] if cidrs else []


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if res.type in (aws.RDS_INSTANCE, aws.RDS_CLUSTER):
        if not is_true(res.props.get("iamDatabaseAuthenticationEnabled")):
            yield MSG_IAM_AUTH
        return
    ports = [int(p) for p in cfg.option("databasePorts")]
    if any(_covers(rule, ports, key) for rule, key in _cidr_rules(res)):
        yield MSG_DB_PORT_CIDR


RULE = ResourceRule(
    id="ISO-DATA-03",
    description=(
        "RDS uses IAM database authentication, and database ports admit only the tenant's pod or "
        "node security groups."
    ),
    severity="medium", tiers="NPVD", scope="all",
    options={"databasePorts": {"type": "array", "items": {"type": "integer"}, "default": [5432],
                               "description": "Ports that only security groups may reach."}},
    applies_to=lambda t: t in (aws.RDS_INSTANCE, aws.RDS_CLUSTER) or t in aws.SECURITY_GROUP_TYPES,
    check=check)
