"""ISO-DATA-07 (stack by design): secrets use the tenant CMK, a tight policy and rotation."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import aws, iam, stackview, tenancy
from policy.props import as_map, number, text
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_CMK = "Encrypt the secret with the tenant's customer-managed KMS key (kmsKeyId)."
MSG_WILDCARD_READER = ("Limit the secret's resource policy to named roles: no '*', account root, "
                       "account id or NotPrincipal in an Allow unless fenced by aws:PrincipalArn or "
                       "aws:PrincipalTag/tenant equal to the tenant.")
MSG_NO_ROTATION = "Add a SecretRotation for the secret (at most every 90 days)."
MSG_SLOW_ROTATION = ("Rotate the secret at most every 90 days (rotationRules."
                     "automaticallyAfterDays or a rate(N days) schedule with N <= 90).")

RATE = re.compile(r"^rate\((\d+) days?\)$")


def _interval_ok(rules: Mapping[str, Any], limit: float) -> bool:
    days = number(rules.get("automaticallyAfterDays"))
    if days is not None:
        return days <= limit
    schedule = text(rules.get("scheduleExpression")) or ""
    match = RATE.match(schedule)
    if match:
        return int(match.group(1)) <= limit
    return schedule.startswith("cron(")


def _open(document: Any, tenant: str | None) -> bool:
    """An Allow to ``*``, an account root or id, NotPrincipal, or an unfenced service."""
    return bool(iam.open_grants(document, tenant=tenant))


def _tenant(res: Resource) -> str | None:
    return text(aws.tags(res.props).get(tenancy.LABEL_TENANT))


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    secrets = {r.urn: r for r in resources if r.type == aws.SECRETSMANAGER_ENTRY and cfg.applies(r)}
    names = {urn: aws.physical_names(r.props) for urn, r in secrets.items()}
    rotated: set[str] = set()
    limit = float(cfg.option("maxRotationDays"))
    for res in resources:
        if res.type == aws.SECRETSMANAGER_ROTATION:
            linked = stackview.linked(res, "secretId", names)
            if linked is not None:
                rotated.add(linked)
                if not _interval_ok(as_map(res.props.get("rotationRules")), limit):
                    yield Finding(MSG_SLOW_ROTATION, res.urn)
        elif res.type == aws.SECRETSMANAGER_POLICY:
            linked = stackview.linked(res, "secretArn", names)
            if linked is not None and _open(res.props.get("policy"), _tenant(secrets[linked])):
                yield Finding(MSG_WILDCARD_READER, res.urn)
    for urn, secret in secrets.items():
        key = text(secret.props.get("kmsKeyId"))
        if key is None or "alias/aws/" in key:
            yield Finding(MSG_CMK, urn)
        if _open(secret.props.get("policy"), _tenant(secret)):
            yield Finding(MSG_WILDCARD_READER, urn)
        if urn not in rotated:
            yield Finding(MSG_NO_ROTATION, urn)


RULE = StackRule(
    id="ISO-DATA-07",
    description=(
        "Secrets Manager secrets use the tenant's KMS key, a resource policy limited to the "
        "tenant's roles, and rotation at most every 90 days."
    ),
    severity="medium", tiers="NPVD", scope="all",
    options={"maxRotationDays": {"type": "integer", "default": 90,
                                 "description": "Longest allowed rotation interval in days."}},
    check=check,
    reads=lambda t: t.startswith("aws:secretsmanager/"))
