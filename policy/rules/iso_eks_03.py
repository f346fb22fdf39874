"""ISO-EKS-03: control-plane audit and authenticator logs are on."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import as_list
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_AUDIT_LOG = "Enable the audit control-plane log (enabledClusterLogTypes)."
MSG_AUTHENTICATOR_LOG = "Enable the authenticator control-plane log (enabledClusterLogTypes)."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    types = as_list(res.props.get("enabledClusterLogTypes"))
    if "audit" not in types:
        yield MSG_AUDIT_LOG
    if "authenticator" not in types:
        yield MSG_AUTHENTICATOR_LOG


RULE = ResourceRule(
    id="ISO-EKS-03",
    description="EKS control-plane logging includes the audit and authenticator logs.",
    severity="medium", tiers="NPVD", scope="all",
    applies_to=lambda t: t in aws.CLUSTER_TYPES, check=check)
