"""ISO-IAM-04 (stack): no tenant policy references another tenant's resources.

A document belongs to a tenant through its tenant tag, or through the role, bucket or
secret it is attached to. What it references is attributed to tenants by the tenant id
in physical names (``tp-<env>-<id>-...``, ``tenant-<id>``, ``t_<id>_app``,
``alias/tp/<env>/<id>/...``, ``tp/<env>/<id>/...``), by the names of tenant-tagged
resources of the stack, and by the tenant tag of the resources it was computed from.
Anything not attributable is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from policy import aws, iam, stackview, tenancy
from policy.props import strings, text
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_FOREIGN_REFERENCE = ("Reference only the tenant's own resources in its policies; this "
                         "document names or is built from another tenant's resource.")

#: Policy-bearing types and the property that attaches them to their owner.
ATTACHED_BY = {
    aws.ROLE_POLICY: "role", aws.ROLE_POLICY_ATTACHMENT: "role",
    aws.BUCKET_POLICY: "bucket", aws.SECRETSMANAGER_POLICY: "secretArn",
}
OWNED_BY_TAG = (aws.ROLE, aws.IAM_POLICY, aws.KMS_KEY, aws.SECRETSMANAGER_ENTRY)


def _documents(res: Resource) -> list[object]:
    if res.type == aws.ROLE:
        return [res.props.get("assumeRolePolicy"), *iam.role_documents(res.props)]
    if res.type == aws.ROLE_POLICY_ATTACHMENT:
        return [res.props.get("policyArn")]
    return [res.props.get("policy")]


def _tagged_tenant(res: Resource) -> str | None:
    return text(aws.tags(res.props).get(tenancy.LABEL_TENANT))


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    known = sorted({t for r in resources if (t := tenancy.tenant_of(r.type, r.props))})
    if len(known) < 2:
        return
    owners = {r.urn: t for r in resources if (t := _tagged_tenant(r)) is not None}
    names: Mapping[str, list[str]] = {r.urn: aws.physical_names(r.props) for r in resources
                                      if r.urn in owners and aws.physical_names(r.props)}
    for res in resources:
        if res.type not in OWNED_BY_TAG and res.type not in ATTACHED_BY:
            continue
        owner = owners.get(res.urn)
        if owner is None and res.type in ATTACHED_BY:
            prop = ATTACHED_BY[res.type]
            named = tenancy.tenants_named_in(text(res.props.get(prop)) or "", known)
            target = stackview.linked(res, prop, names)
            owner = owners.get(target) if target else (named.pop() if len(named) == 1 else None)
        if owner is None or not cfg.applies(res):
            continue
        referenced: set[str] = {owners[d] for d in res.dependencies if d in owners}
        for value in strings(_documents(res)):
            document = iam.parse(value)
            texts = strings(document) if document is not None else [value]
            for item in texts:
                referenced |= tenancy.tenants_named_in(item, known)
                referenced |= {owners[urn] for urn, ns in names.items()
                               if any(stackview.refers_to(item, n) for n in ns)}
        if referenced - {owner}:
            yield Finding(MSG_FOREIGN_REFERENCE, res.urn)


RULE = StackRule(
    id="ISO-IAM-04",
    description=(
        "No tenant's IAM, S3 bucket, KMS key or Secrets Manager policy references another "
        "tenant's ARNs or resources."
    ),
    severity="critical", tiers="NPV", scope="all", check=check)
