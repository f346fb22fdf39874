"""ISO-IAM-03: tenant roles carry no wildcard or administrator permissions."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws, iam, tenancy
from policy.props import as_str_list, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_WILDCARD_ACTION = ("Name actions explicitly in tenant policies: no '*', 'service:*', partial "
                       "patterns ('s3:Get*', '?') or NotAction in Allow statements.")
MSG_WILDCARD_RESOURCE = ("Name resources explicitly in tenant policies: no '*', open ARNs "
                         "('arn:aws:s3:::*', 'key/*') or NotResource in Allow statements (option "
                         "wildcardResourceActions lists the exceptions; KMS use pinned to kms:ViaService "
                         "is judged by that service's own resource permissions).")
MSG_ADMIN_POLICY = ("Attach no administrator policy (AdministratorAccess, PowerUserAccess, "
                    "IAMFullAccess, *FullAccess) to a tenant role.")

TYPES = (aws.ROLE, aws.ROLE_POLICY, aws.IAM_POLICY, aws.ROLE_POLICY_ATTACHMENT)


def _tenant_owned(res: Resource) -> bool:
    if text(aws.tags(res.props).get(tenancy.LABEL_TENANT)):
        return True
    name = text(res.props.get("role")) or text(res.props.get("name")) or ""
    return tenancy.looks_tenant_owned(name)


def _documents(res: Resource) -> list[object]:
    if res.type == aws.ROLE:
        return list(iam.role_documents(res.props))
    if res.type in (aws.ROLE_POLICY, aws.IAM_POLICY):
        return [res.props.get("policy")]
    return []


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if not _tenant_owned(res):
        return
    exempt = set(cfg.option("wildcardResourceActions"))
    for document in _documents(res):
        for statement in iam.statements(document):
            if not statement.allows:
                continue
            if statement.has_not_action or any(iam.is_wildcard_action(a) for a in statement.actions):
                yield MSG_WILDCARD_ACTION
            open_ = [r for r in statement.resources if iam.is_open_resource(r)]
            if statement.has_not_resource or (open_ and not (
                    statement.actions and set(statement.actions) <= exempt)
                    and not iam.fenced_to_services(statement, account=False)):
                yield MSG_WILDCARD_RESOURCE
    arns = as_str_list(res.props.get("managedPolicyArns")) + as_str_list(res.props.get("policyArn"))
    if any(iam.is_admin_policy_arn(a) for a in arns):
        yield MSG_ADMIN_POLICY


RULE = ResourceRule(
    id="ISO-IAM-03",
    description=(
        "Tenant roles and policies grant no '*' actions or resources and carry no administrator "
        "policies."
    ),
    severity="high", tiers="NPVD", scope="all",
    options={"wildcardResourceActions": {
        "type": "array", "items": {"type": "string"},
        "default": ["sts:GetCallerIdentity", "ecr:GetAuthorizationToken", "route53:ListHostedZones",
                    "route53:ListHostedZonesByName", "route53:GetChange"],
        "description": ("Actions whose resources cannot be named in advance and may use '*' or "
                        "an open ARN: no resource types, or ids made per request (route53 change/*).")}},
    applies_to=lambda t: t in TYPES, check=check)
