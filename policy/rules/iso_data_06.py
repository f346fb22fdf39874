"""ISO-DATA-06: KMS keys rotate, have no wildcard principal, keep the lockout safety check."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws, iam
from policy.props import is_true
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_ROTATION = "Set enableKeyRotation to true on the KMS key."
MSG_WILDCARD_PRINCIPAL = "Remove wildcard principals ('*') from the key policy's Allow statements."
MSG_LOCKOUT_BYPASS = "Do not set bypassPolicyLockoutSafetyCheck on the KMS key."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if not is_true(res.props.get("enableKeyRotation")):
        yield MSG_ROTATION
    if any(s.allows and any(value == "*" for _kind, value in s.principals())
           for s in iam.statements(res.props.get("policy"))):
        yield MSG_WILDCARD_PRINCIPAL
    if is_true(res.props.get("bypassPolicyLockoutSafetyCheck")):
        yield MSG_LOCKOUT_BYPASS


RULE = ResourceRule(
    id="ISO-DATA-06",
    description=(
        "KMS keys rotate automatically, grant nothing to a wildcard principal, and never bypass "
        "the policy lockout safety check."
    ),
    severity="high", tiers="NPVD", scope="all",
    applies_to=lambda t: t == aws.KMS_KEY, check=check)
