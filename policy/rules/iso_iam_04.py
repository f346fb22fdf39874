"""ISO-IAM-04 (stack): no tenant policy references or reaches another tenant's resources.

A document belongs to a tenant through its tenant tag, or through the role, bucket or
secret it is attached to. It breaks the rule if it

- names another tenant's resource: a literal name or ARN embedding another known
  tenant's id (the naming templates of :mod:`policy.reach`, longest id winning), a
  physical name of another tenant's tagged resource, or a value computed from one
  (property dependencies);
- *reaches* another tenant through a pattern: an Allow statement's ``Resource``
  (identity policies), ``Principal`` or ``*Like`` condition value (``*``/``?``
  anywhere) that matches the name naming gives *some* other tenant id, present in the
  stack or not (``dbuser:prx-…/*``, ``tp-prod-*-files``, ``secret:tp/prod/*``);
- allows through ``NotResource``, ``NotAction`` or ``NotPrincipal`` (everything but a list);
- trusts a web identity other than the stack's own cluster OIDC provider(s) (another
  cell's or another tenant's cluster).

A pattern is fenced, and so allowed, only by a condition that really fences:
``aws:ResourceTag/tenant`` or ``aws:PrincipalTag/tenant`` equal (exact, no ``IfExists``)
to the owner. Each document is parsed once and tenants are looked up by name fragments
(index-based; no loop over tenants per string).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from policy import aws, iam, reach, stackview, tenancy
from policy.props import as_map, as_str_list, strings, text
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_FOREIGN_REFERENCE = ("Reference only the tenant's own resources in its policies; this "
                         "document names or is built from another tenant's resource.")
MSG_FOREIGN_PROVIDER = ("Trust only this stack's own cluster OIDC provider in a tenant role; this "
                        "trust names another cluster's web identity.")
MSG_FOREIGN_REACH = ("A wildcard in this tenant's policy (Resource, Principal or condition pattern, "
                     "NotResource/NotAction/NotPrincipal) reaches other tenants' names; name the "
                     "tenant's own resources exactly or fence with aws:ResourceTag/tenant.")

#: Policy-bearing types and the property that attaches them to their owner.
ATTACHED_BY = {
    aws.ROLE_POLICY: "role", aws.ROLE_POLICY_ATTACHMENT: "role",
    aws.BUCKET_POLICY: "bucket", aws.SECRETSMANAGER_POLICY: "secretArn",
}
OWNED_BY_TAG = (aws.ROLE, aws.IAM_POLICY, aws.KMS_KEY, aws.SECRETSMANAGER_ENTRY)
#: Identity policies: their Resource patterns are what the holder may touch.
IDENTITY = (aws.ROLE_POLICY, aws.IAM_POLICY)


def _documents(res: Resource) -> list[tuple[object, bool]]:
    """(document, is identity policy) pairs the resource carries."""
    if res.type == aws.ROLE:
        return [(res.props.get("assumeRolePolicy"), False),
                *((d, True) for d in iam.role_documents(res.props))]
    if res.type == aws.ROLE_POLICY_ATTACHMENT:
        return [(res.props.get("policyArn"), False)]
    return [(res.props.get("policy"), res.type in IDENTITY)]


OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


def _issuers(resources: Sequence[Resource]) -> set[str]:
    """Issuer host/paths of the stack's OIDC providers (``url`` without its scheme)."""
    return {url.split("://", 1)[-1] for r in resources if r.type == OIDC_PROVIDER
            if (url := text(r.props.get("url")))}


def _foreign_provider(res: Resource, issuers: set[str]) -> bool:
    if res.type != aws.ROLE or not issuers:
        return False
    federated = [v for s in iam.statements(res.props.get("assumeRolePolicy"))
                 for kind, v in s.principals() if kind == "Federated" and ":oidc-provider/" in v]
    return any(v.split(":oidc-provider/", 1)[1] not in issuers for v in federated)


def _tagged_tenant(res: Resource) -> str | None:
    return text(aws.tags(res.props).get(tenancy.LABEL_TENANT))


def _fenced(statement: iam.Statement, owner: str) -> bool:
    return any(iam.exact_condition_values(statement, key) == [owner]
               for key in ("aws:resourcetag/tenant", "aws:principaltag/tenant"))


def _patterns(statement: iam.Statement, identity: bool) -> list[str]:
    """The values of an Allow statement that widen what it grants or to whom."""
    found = [v for _k, v in statement.principals()]
    if identity:
        found += statement.resources
    for operator, block in statement.conditions.items():
        if isinstance(operator, str) and "like" in operator.lower() and "not" not in operator.lower():
            found += [v for values in as_map(block).values() for v in as_str_list(values)]
    return [v for v in found if iam.has_wildcard(v)]


def _reaches(document: object, identity: bool, owner: str, environments: tuple[str, ...]) -> bool:
    for statement in iam.statements(document):
        if not statement.allows or _fenced(statement, owner):
            continue
        if statement.has_not_resource or statement.has_not_action or statement.has_not_principal:
            return True
        if any(reach.reaches_other_tenant(p, owner, environments) for p in _patterns(statement, identity)):
            return True
    return False


class _Names:
    """Physical names of tenant-tagged resources, looked up by the fragments of a value."""

    def __init__(self, by_name: Mapping[str, set[str]]) -> None:
        self.by_name = by_name

    def tenants_in(self, value: str) -> set[str]:
        # stackview.refers_to: the name itself, an ARN ending in it, or an id "<name>-...".
        candidates = {value, value.rsplit(":", 1)[-1], value.rsplit("/", 1)[-1]}
        candidates |= {value[:i] for i, c in enumerate(value) if c == "-"}
        return {t for c in candidates for t in self.by_name.get(c, ())}


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    known = frozenset(t for r in resources if (t := tenancy.tenant_of(r.type, r.props)))
    if not known:
        return
    environments = tuple(sorted({e for r in resources
                                 if (e := text(aws.tags(r.props).get("environment")))}))
    owners = {r.urn: t for r in resources if (t := _tagged_tenant(r)) is not None}
    names: dict[str, list[str]] = {r.urn: aws.physical_names(r.props) for r in resources
                                   if r.urn in owners and aws.physical_names(r.props)}
    by_name: dict[str, set[str]] = {}
    for urn, ns in names.items():
        for n in ns:
            by_name.setdefault(n, set()).add(owners[urn])
    index = _Names(by_name)
    issuers = _issuers(resources)
    for res in resources:
        if res.type not in OWNED_BY_TAG and res.type not in ATTACHED_BY:
            continue
        owner = owners.get(res.urn)
        if owner is None and res.type in ATTACHED_BY:
            prop = ATTACHED_BY[res.type]
            named = reach.named_tenants(text(res.props.get(prop)) or "", known, environments)
            target = stackview.linked(res, prop, names)
            owner = owners.get(target) if target else (named.pop() if len(named) == 1 else None)
        if owner is None or not cfg.applies(res):
            continue
        referenced: set[str] = {owners[d] for d in res.dependencies if d in owners}
        reached = False
        for value, identity in _documents(res):
            document = iam.parse(value)
            for item in strings(document) if document is not None else strings(value):
                referenced |= reach.named_tenants(item, known, environments) | index.tenants_in(item)
            reached = reached or (document is not None
                                  and _reaches(document, identity, owner, environments))
        if referenced - {owner}:
            yield Finding(MSG_FOREIGN_REFERENCE, res.urn)
        if reached:
            yield Finding(MSG_FOREIGN_REACH, res.urn)
        if _foreign_provider(res, issuers):
            yield Finding(MSG_FOREIGN_PROVIDER, res.urn)


RULE = StackRule(
    id="ISO-IAM-04",
    description=(
        "No tenant's IAM, S3 bucket, KMS key or Secrets Manager policy references another "
        "tenant's ARNs or resources, or reaches them through a wildcard, NotResource, "
        "NotAction or NotPrincipal."
    ),
    severity="critical", tiers="NPV", scope="all", check=check)
