"""ISO-IAM-01: an IRSA role trusts exactly one web identity: its cluster's OIDC provider, one ServiceAccount.

A role whose trust policy admits a web identity must have exactly one statement: Allow,
``Principal`` only ``{"Federated": <oidc-provider ARN>}``, ``Action`` only
``sts:AssumeRoleWithWebIdentity``, and a ``Condition`` of only ``StringEquals`` on
exactly ``<issuer>:sub`` (one exact ``system:serviceaccount:<ns>:<sa>``) and
``<issuer>:aud`` (``sts.amazonaws.com``), where ``<issuer>`` is that provider's. A second
statement, an added AWS or Service principal, another provider, ``StringLike`` or any
other operator, a wildcard or a missing audience each lets someone else assume the role.
For tenant roles the namespace is the tenant's, and a role tagged ``workload`` trusts that
workload's ServiceAccount (tenants.naming).
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws, iam, tenancy
from policy.props import as_map, as_str_list, text
from policy.rule import Resource, ResourceRule, RuleConfig
from tenants import naming

MSG_SUB_EXACT = ("Match ':sub' with StringEquals on exactly 'system:serviceaccount:<namespace>:"
                 "<serviceaccount>'; no StringLike, no wildcards.")
MSG_SUB_NAMESPACE = "Trust only ServiceAccounts in the role's own tenant namespace (':sub')."
MSG_AUD = "Require ':aud' StringEquals sts.amazonaws.com."
MSG_ONE_IDENTITY = ("Trust exactly one web identity: one Allow statement, Principal only "
                    "{Federated: <the cluster's OIDC provider>}, Action only "
                    "sts:AssumeRoleWithWebIdentity, conditions only on that provider's ':sub' and ':aud'.")

SUB_PREFIX = "system:serviceaccount:"
WEB_IDENTITY = "sts:assumerolewithwebidentity"
PROVIDER_MARK = ":oidc-provider/"


def _web_identity(statement: iam.Statement) -> bool:
    return (any(iam.action_matches(a, WEB_IDENTITY) for a in statement.actions)
            or any(kind == "Federated" for kind, _ in statement.principals()))


def _issuer(statement: iam.Statement) -> str | None:
    providers = [v for kind, v in statement.principals() if kind == "Federated"]
    if len(providers) != 1 or PROVIDER_MARK not in providers[0] or iam.has_wildcard(providers[0]):
        return None
    return providers[0].split(PROVIDER_MARK, 1)[1]


def _shape_ok(statements: list[iam.Statement]) -> bool:
    if len(statements) != 1:
        return False
    s = statements[0]
    issuer = _issuer(s)
    kinds = {kind for kind, _ in s.principals()}
    conditions = s.conditions
    keys = {k for k in as_map(conditions.get("StringEquals"))}
    return (s.allows and issuer is not None and kinds == {"Federated"} and not s.has_not_principal
            and [a.lower() for a in s.actions] == [WEB_IDENTITY] and not s.has_not_action
            and set(conditions) == {"StringEquals"} and keys == {f"{issuer}:sub", f"{issuer}:aud"})


def _expected_subject(res: Resource) -> tuple[str | None, str | None]:
    """(namespace, service account) a tenant role must trust; ``None`` where not pinned."""
    tags = aws.tags(res.props)
    tenant = text(tags.get(tenancy.LABEL_TENANT))
    # A dedicated cluster is all the tenant's: its system roles (aws-node...) trust kube-system.
    if not tenant or tenancy.tier_of(res.type, res.props) == "D":
        return None, None
    workload = text(tags.get("workload"))
    account = workload if workload in naming.WORKLOADS else None
    return tenancy.tenant_namespace(tenant), account


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    statements = iam.statements(res.props.get("assumeRolePolicy"))
    trusting = [s for s in statements if _web_identity(s)]
    if not trusting:
        return
    if not _shape_ok(statements):
        yield MSG_ONE_IDENTITY
    namespace, account = _expected_subject(res)
    for statement in trusting:
        subjects = statement.condition_values("StringEquals", ":sub")
        if (not subjects or len(subjects) != 1 or statement.condition_values("StringLike", ":sub") is not None
                or any(iam.has_wildcard(s) or not s.startswith(SUB_PREFIX) or s.count(":") != 3
                       for s in subjects)):
            yield MSG_SUB_EXACT
        elif (namespace and subjects[0].split(":")[2] != namespace) or (
                account and subjects[0].split(":")[3] != account):
            yield MSG_SUB_NAMESPACE
        if as_str_list(statement.condition_values("StringEquals", ":aud")) != ["sts.amazonaws.com"]:
            yield MSG_AUD


RULE = ResourceRule(
    id="ISO-IAM-01",
    description=(
        "An IRSA role trusts exactly one web identity: its cluster's OIDC provider, with "
        "StringEquals on ':sub' (the exact tenant namespace and ServiceAccount) and ':aud' "
        "(sts.amazonaws.com); no second statement, principal, operator or wildcard."
    ),
    severity="critical", tiers="NPVD", scope="all",
    applies_to=lambda t: t == aws.ROLE, check=check)
