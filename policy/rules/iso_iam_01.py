"""ISO-IAM-01: IRSA trust pins the exact ServiceAccount and the STS audience."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws, iam, tenancy
from policy.props import text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SUB_EXACT = ("Match ':sub' with StringEquals on exactly 'system:serviceaccount:<namespace>:"
                 "<serviceaccount>'; no StringLike, no wildcards.")
MSG_SUB_NAMESPACE = "Trust only ServiceAccounts in the role's own tenant namespace (':sub')."
MSG_AUD = "Require ':aud' StringEquals sts.amazonaws.com."

SUB_PREFIX = "system:serviceaccount:"


def _web_identity(statement: iam.Statement) -> bool:
    return statement.allows and (
        "sts:AssumeRoleWithWebIdentity" in statement.actions
        or any(kind == "Federated" for kind, _ in statement.principals()))


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    tenant = text(aws.tags(res.props).get(tenancy.LABEL_TENANT))
    # A dedicated cluster is all the tenant's: its system roles (aws-node...) trust kube-system.
    pinned = tenant if tenancy.tier_of(res.type, res.props) != "D" else None
    for statement in iam.statements(res.props.get("assumeRolePolicy")):
        if not _web_identity(statement):
            continue
        subjects = statement.condition_values("StringEquals", ":sub")
        if (not subjects or statement.condition_values("StringLike", ":sub") is not None
                or any("*" in s or "?" in s or not s.startswith(SUB_PREFIX)
                       or s.count(":") != 3 for s in subjects)):
            yield MSG_SUB_EXACT
        elif pinned and any(s.split(":")[2] != tenancy.tenant_namespace(pinned) for s in subjects):
            yield MSG_SUB_NAMESPACE
        if statement.condition_values("StringEquals", ":aud") != ["sts.amazonaws.com"]:
            yield MSG_AUD


RULE = ResourceRule(
    id="ISO-IAM-01",
    description=(
        "IRSA trust policies use StringEquals on ':sub' (the exact tenant namespace and "
        "ServiceAccount) and on ':aud' (sts.amazonaws.com)."
    ),
    severity="critical", tiers="NPVD", scope="all",
    applies_to=lambda t: t == aws.ROLE, check=check)
