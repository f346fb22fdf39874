"""ISO-DATA-06: KMS keys rotate, have no wildcard principal, keep the lockout safety check."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws, iam, tenancy
from policy.props import is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig
from tenants import naming

MSG_ROTATION = "Set enableKeyRotation to true on the KMS key."
MSG_WILDCARD_PRINCIPAL = "Remove wildcard principals ('*') from the key policy's Allow statements."
MSG_ACCOUNT_WIDE = ("Grant key access to named roles (the platform admin role, the roles that use "
                    "the key), not to the account root, an account id, '*' or NotPrincipal, unless "
                    "the statement is fenced (aws:PrincipalArn equality, or key use only with "
                    "kms:ViaService and kms:CallerAccount); service principals need aws:SourceAccount "
                    "or an exact encryption context.")
MSG_COPY_GRANT = ("Grant the migration's copier (a deploy role) use of a tenant key only while the tenant "
                  "moves, on a key tagged tenant-platform.io/migration-copy source or target; remove the "
                  "grant once the move has switched.")
MSG_LOCKOUT_BYPASS = "Do not set bypassPolicyLockoutSafetyCheck on the KMS key."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if not is_true(res.props.get("enableKeyRotation")):
        yield MSG_ROTATION
    if any(s.allows and any(value == "*" for _kind, value in s.principals())
           for s in iam.statements(res.props.get("policy"))):
        yield MSG_WILDCARD_PRINCIPAL
    tenant = text(aws.tags(res.props).get(tenancy.LABEL_TENANT))
    if iam.open_grants(res.props.get("policy"), tenant=tenant, kms=True):
        yield MSG_ACCOUNT_WIDE
    if iam.copier_statements(res.props.get("policy")) and text(
            aws.tags(res.props).get(naming.TAG_MIGRATION_COPY)) not in ("source", "target"):
        yield MSG_COPY_GRANT
    if is_true(res.props.get("bypassPolicyLockoutSafetyCheck")):
        yield MSG_LOCKOUT_BYPASS


RULE = ResourceRule(
    id="ISO-DATA-06",
    description=(
        "KMS keys rotate automatically, grant nothing to a wildcard principal or, unfenced, to "
        "an account root, and never bypass the policy lockout safety check."
    ),
    severity="high", tiers="NPVD", scope="all",
    applies_to=lambda t: t == aws.KMS_KEY, check=check)
