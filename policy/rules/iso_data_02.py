"""ISO-DATA-02: RDS storage and Performance Insights are encrypted with a customer-managed key."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_STORAGE_ENCRYPTED = "Set storageEncrypted to true."
MSG_STORAGE_CMK = ("Encrypt storage with the tenant's customer-managed KMS key (kmsKeyId), not "
                   "the AWS-managed aws/rds key.")
MSG_PERFORMANCE_INSIGHTS_CMK = ("Encrypt Performance Insights with the customer-managed key "
                                "(performanceInsightsKmsKeyId).")


def _customer_managed(key: str | None) -> bool:
    return key is not None and "alias/aws/" not in key


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    props = res.props
    if not is_true(props.get("storageEncrypted")):
        yield MSG_STORAGE_ENCRYPTED
    if not _customer_managed(text(props.get("kmsKeyId"))):
        yield MSG_STORAGE_CMK
    if is_true(props.get("performanceInsightsEnabled")) and not _customer_managed(
            text(props.get("performanceInsightsKmsKeyId"))):
        yield MSG_PERFORMANCE_INSIGHTS_CMK


RULE = ResourceRule(
    id="ISO-DATA-02",
    description=(
        "RDS storage and Performance Insights are encrypted with a customer-managed KMS key."
    ),
    severity="high", tiers="NPVD", scope="all",
    applies_to=lambda t: t in (aws.RDS_INSTANCE, aws.RDS_CLUSTER), check=check)
