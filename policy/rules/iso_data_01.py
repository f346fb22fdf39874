"""ISO-DATA-01: databases are not public and sit in a private subnet group."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_PUBLIC_DB = "Set publiclyAccessible to false on the database instance."
MSG_SUBNET_GROUP = "Place the database in a private DB subnet group (dbSubnetGroupName)."

TYPES = (aws.RDS_INSTANCE, aws.RDS_CLUSTER_INSTANCE, aws.RDS_CLUSTER)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if res.type != aws.RDS_CLUSTER and is_true(res.props.get("publiclyAccessible")):
        yield MSG_PUBLIC_DB
    if res.type != aws.RDS_CLUSTER_INSTANCE and text(res.props.get("dbSubnetGroupName")) is None:
        yield MSG_SUBNET_GROUP


RULE = ResourceRule(
    id="ISO-DATA-01",
    description="RDS instances are not publicly accessible and live in a private DB subnet group.",
    severity="critical", tiers="NPVD", scope="all",
    applies_to=lambda t: t in TYPES, check=check)
