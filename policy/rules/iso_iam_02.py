"""ISO-IAM-02 (stack): Pod Identity stays within the role's tenant; shared roles use tags.

A role shared by several namespaces must condition every Allow statement on
``aws:PrincipalTag/kubernetes-namespace``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import aws, iam, stackview, tenancy
from policy.props import text
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_ASSOCIATION_NAMESPACE = "Associate the role only with ServiceAccounts in its own tenant's namespace."
MSG_SHARED_ROLE = ("Condition every Allow statement of a role shared by several namespaces on "
                   "aws:PrincipalTag/kubernetes-namespace.")

NAMESPACE_TAG = "aws:principaltag/kubernetes-namespace"


def _scoped_by_namespace(statement: iam.Statement) -> bool:
    """The namespace tag is a condition key, or a policy variable in a value or resource."""
    return NAMESPACE_TAG in statement.condition_keys() or any(
        NAMESPACE_TAG in value.lower() for value in statement.strings())


def _conditioned(documents: list[object]) -> bool:
    return all(_scoped_by_namespace(s) for doc in documents for s in iam.statements(doc) if s.allows)


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    roles = {r.urn: r for r in resources if r.type == aws.ROLE}
    names = {urn: aws.physical_names(r.props) + [r.name] for urn, r in roles.items()}
    namespaces: dict[str, set[str]] = {}
    for res in resources:
        if res.type != aws.POD_IDENTITY_ASSOCIATION or not cfg.applies(res):
            continue
        role = stackview.linked(res, "roleArn", names)
        namespace = text(res.props.get("namespace")) or ""
        owner = text(aws.tags(res.props).get(tenancy.LABEL_TENANT))
        if role is not None:
            namespaces.setdefault(role, set()).add(namespace)
            owner = owner or text(aws.tags(roles[role].props).get(tenancy.LABEL_TENANT))
        if owner and namespace != tenancy.tenant_namespace(owner):
            yield Finding(MSG_ASSOCIATION_NAMESPACE, res.urn)
    policies = {r.urn: r for r in resources if r.type == aws.IAM_POLICY}
    policy_names = {urn: aws.physical_names(r.props) + [r.name] for urn, r in policies.items()}
    for role_urn, used_by in sorted(namespaces.items()):
        if len(used_by) < 2:
            continue
        role_names = {role_urn: names[role_urn]}
        documents: list[object] = list(iam.role_documents(roles[role_urn].props))
        for res in resources:
            if res.type == aws.ROLE_POLICY and stackview.linked(res, "role", role_names):
                documents.append(res.props.get("policy"))
            elif res.type == aws.ROLE_POLICY_ATTACHMENT and stackview.linked(res, "role", role_names):
                attached = stackview.linked(res, "policyArn", policy_names)
                documents.append(policies[attached].props.get("policy") if attached else None)
        if not _conditioned(documents) or None in documents:
            yield Finding(MSG_SHARED_ROLE, role_urn)


RULE = StackRule(
    id="ISO-IAM-02",
    description=(
        "A Pod Identity association binds a role only to its own tenant's namespace, and a role "
        "shared by several namespaces conditions every Allow on aws:PrincipalTag/kubernetes-"
        "namespace."
    ),
    severity="high", tiers="NPVD", scope="all", check=check,
    reads=lambda t: t in (aws.ROLE, aws.POD_IDENTITY_ASSOCIATION, aws.IAM_POLICY, aws.ROLE_POLICY,
                             aws.ROLE_POLICY_ATTACHMENT))
