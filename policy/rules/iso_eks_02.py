"""ISO-EKS-02: Kubernetes secrets are envelope-encrypted with a customer-managed key."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws
from policy.props import as_list, get, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_ENVELOPE = ("Envelope-encrypt Kubernetes secrets with a customer-managed KMS key "
                "(encryptionConfig with resources [secrets], or encryptionConfigKeyArn).")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if res.type == aws.EKS_COMPONENT:
        ok = text(res.props.get("encryptionConfigKeyArn")) is not None
    else:
        config = res.props.get("encryptionConfig")
        ok = (text(get(config, "provider", "keyArn")) is not None
              and "secrets" in as_list(get(config, "resources")))
    if not ok:
        yield MSG_ENVELOPE


RULE = ResourceRule(
    id="ISO-EKS-02",
    description="EKS envelope-encrypts Kubernetes secrets with a customer-managed KMS key.",
    severity="high", tiers="NPVD", scope="all",
    applies_to=lambda t: t in aws.CLUSTER_TYPES, check=check)
