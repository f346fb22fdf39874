"""Reading AWS policy documents (IAM, S3 bucket, KMS key, Secrets Manager policies).

Documents arrive as JSON strings (the AWS provider's inputs) or objects. A document that
cannot be parsed yields no statements; rules that need a document report its absence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from policy.props import as_list, as_map, as_str_list, json_doc, strings
from tenants import naming

#: AWS-managed policies no tenant role may carry.
ADMIN_POLICY_NAMES = frozenset({"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"})


@dataclass(frozen=True)
class Statement:
    """One policy statement with its fields normalised to lists."""

    body: Mapping[str, Any]

    @property
    def effect(self) -> str:
        """``Allow`` or ``Deny``."""
        value = self.body.get("Effect")
        return value if isinstance(value, str) else ""

    @property
    def allows(self) -> bool:
        """An Allow statement."""
        return self.effect == "Allow"

    @property
    def actions(self) -> list[str]:
        """``Action`` as a list."""
        return as_str_list(self.body.get("Action"))

    @property
    def resources(self) -> list[str]:
        """``Resource`` as a list."""
        return as_str_list(self.body.get("Resource"))

    @property
    def not_actions(self) -> list[str]:
        """``NotAction`` as a list."""
        return as_str_list(self.body.get("NotAction"))

    @property
    def not_resources(self) -> list[str]:
        """``NotResource`` as a list."""
        return as_str_list(self.body.get("NotResource"))

    @property
    def has_not_principal(self) -> bool:
        """Uses ``NotPrincipal`` (everyone but the listed principals)."""
        return "NotPrincipal" in self.body

    @property
    def has_not_action(self) -> bool:
        """Uses ``NotAction`` (an inverted, effectively open action list)."""
        return "NotAction" in self.body

    @property
    def has_not_resource(self) -> bool:
        """Uses ``NotResource``."""
        return "NotResource" in self.body

    @property
    def conditions(self) -> Mapping[str, Any]:
        """``Condition`` (operator -> key -> values)."""
        return as_map(self.body.get("Condition"))

    def principals(self) -> list[tuple[str, str]]:
        """(kind, value) pairs; ``("*", "*")`` for the anonymous wildcard."""
        principal = self.body.get("Principal")
        if principal == "*":
            return [("*", "*")]
        return [(kind, value) for kind, values in as_map(principal).items()
                for value in as_str_list(values)]

    def condition_values(self, operator: str, key_suffix: str) -> list[str] | None:
        """Values of a condition key (matched by suffix, e.g. ``:sub``) under one operator."""
        block = as_map(self.conditions.get(operator))
        for key in block:
            if isinstance(key, str) and key.endswith(key_suffix):
                return as_str_list(block[key])
        return None

    def condition_keys(self) -> set[str]:
        """Every condition key used, case-folded (AWS condition keys are case-insensitive)."""
        return {k.lower() for op in self.conditions for k in as_map(self.conditions[op])
                if isinstance(k, str)}

    def strings(self) -> list[str]:
        """Every string value in the statement (resources, principals, condition values)."""
        return strings(self.body)


def parse(document: Any) -> Mapping[str, Any] | None:
    """A policy document from a JSON string or object, or ``None``."""
    return json_doc(document)


def statements(document: Any) -> list[Statement]:
    """The statements of a policy document (none if it cannot be parsed)."""
    doc = parse(document)
    if doc is None:
        return []
    raw = doc.get("Statement")
    items = [raw] if isinstance(raw, Mapping) else as_list(raw)
    return [Statement(as_map(s)) for s in items]


def role_documents(props: Mapping[str, Any]) -> Iterator[Any]:
    """The permission documents carried inline by an ``aws:iam/role:Role``."""
    for inline in as_list(props.get("inlinePolicies")):
        policy = as_map(inline).get("policy")
        if policy is not None:
            yield policy


def is_admin_policy_arn(arn: Any) -> bool:
    """An AWS-managed administrator policy (or any ``*FullAccess`` managed policy)."""
    if not isinstance(arn, str) or ":policy/" not in arn:
        return False
    name = arn.rsplit("/", 1)[-1]
    return name in ADMIN_POLICY_NAMES or (":aws:policy/" in arn and name.endswith("FullAccess"))


def is_wildcard_action(action: str) -> bool:
    """An action pattern: ``*``, a service (``s3:*``) or a part of one (``s3:Get*``, ``kms:?ncrypt``)."""
    return has_wildcard(action)


# --- IAM wildcards -----------------------------------------------------------------------
def has_wildcard(value: str) -> bool:
    """Whether a value is an IAM pattern (``*`` or ``?`` anywhere in it)."""
    return "*" in value or "?" in value


@lru_cache(maxsize=4096)
def _glob(pattern: str, fold: bool) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if fold else 0))


def glob_matches(pattern: str, value: str, *, fold_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one.

    Resource ARNs match case-sensitively; actions and condition keys are case-insensitive
    (pass ``fold_case``).
    """
    return _glob(pattern, fold_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Whether an ``Action`` entry (``s3:*``, ``kms:Get*``, ``*``) covers an action."""
    return glob_matches(pattern, action, fold_case=True)


def is_open_resource(resource: str) -> bool:
    """``*``, or an ARN whose resource part is nothing but a type and wildcards.

    ``arn:aws:s3:::*``, ``arn:aws:kms:*:*:key/*``, ``arn:aws:iam::*:role/*`` name no
    resource at all; an ARN with a wildcard in its service segment names every service.
    """
    if not has_wildcard(resource):
        return False
    parts = resource.split(":", 5)
    if resource == "*" or len(parts) < 6:
        return True
    service, rest = parts[2], parts[5]
    if has_wildcard(service):
        return True
    # S3 ARNs have no resource type: their resource part starts with the bucket name.
    for sep in ("/", ":") if service != "s3" else ():
        if sep in rest and not has_wildcard(rest.split(sep, 1)[0]):
            rest = rest.split(sep, 1)[1]
            break
    return rest.strip("*?") == ""


# --- principals and fences -------------------------------------------------------------
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ACCOUNT_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|\*):root$")


def is_account_wide(kind: str, value: str) -> bool:
    """A principal that stands for a whole account or everyone, not one identity.

    ``*`` (anonymous, any account), ``{"AWS": "*"}``, an account root ARN
    (``arn:aws:iam::<acct>:root``) and a bare 12-digit account id all delegate to every
    principal whose IAM policies allow the action; a pattern in a principal is never
    one identity either.
    """
    if kind == "*" or value == "*":
        return True
    if kind != "AWS":
        return False
    return bool(_ACCOUNT_ID.match(value) or _ACCOUNT_ROOT.match(value)) or has_wildcard(value)


_EQUALITY = frozenset({"stringequals", "arnequals"})


def exact_condition_values(statement: Statement, key: str) -> list[str] | None:
    """Values of ``key`` under an equality operator (no ``IfExists``, no ``ForAnyValue``), or ``None``."""
    for operator, block in statement.conditions.items():
        if not isinstance(operator, str) or operator.lower() not in _EQUALITY:
            continue
        for name, values in as_map(block).items():
            if isinstance(name, str) and name.lower() == key:
                found = as_str_list(values)
                return found if found and not any(has_wildcard(v) for v in found) else None
    return None


def pins_principal(statement: Statement, *, tenant: str | None = None) -> bool:
    """Whether a condition really fences the caller to named identities.

    Only equality on ``aws:PrincipalArn`` with exact ARNs counts, or (for a tenant's own
    resource) ``aws:ResourceTag/tenant`` or ``aws:PrincipalTag/tenant`` equal to that tenant.
    ``StringLike``, ``...IfExists``, negated operators and ``ForAnyValue`` do not fence: a
    missing key or a pattern lets other callers through.
    """
    if exact_condition_values(statement, "aws:principalarn") is not None:
        return True
    if tenant is None:
        return False
    return any(exact_condition_values(statement, key) == [tenant]
               for key in ("aws:principaltag/tenant", "aws:resourcetag/tenant"))


#: Key use (not administration) that AWS services perform for the caller; with
#: ``kms:ViaService`` and ``kms:CallerAccount`` pinned the account may delegate them.
KMS_SERVICE_USE_ACTIONS = frozenset(a.lower() for a in (
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants",
    "kms:RevokeGrant"))


def fenced_to_services(statement: Statement, *, account: bool = True) -> bool:
    """A KMS statement limited to key use through named AWS services (of one account).

    ``kms:ViaService`` (exact service endpoints) and, in key policies (``account``),
    ``kms:CallerAccount`` pinned by equality, and only use/grant actions, none of
    administration (``PutKeyPolicy``, ``ScheduleKeyDeletion``...), which would let the
    account rewrite the fence. The key is then reached only through that service, whose
    own resource permissions (bucket policies, secret policies) decide what is decrypted.
    """
    actions = statement.actions
    return (bool(actions) and not statement.has_not_action
            and all(a.lower() in KMS_SERVICE_USE_ACTIONS for a in actions)
            and exact_condition_values(statement, "kms:viaservice") is not None
            and (not account or exact_condition_values(statement, "kms:calleraccount") is not None))


#: Condition keys that tie a service principal's request to this account's own resources.
SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid")


def _service_fenced(statement: Statement) -> bool:
    """A service principal's grant pinned to our resources (the confused-deputy guard)."""
    if any(exact_condition_values(statement, key) is not None for key in SOURCE_KEYS):
        return True
    # CloudWatch Logs and others name the resource in the encryption context.
    return any(isinstance(op, str) and op.lower() in _EQUALITY and any(
        isinstance(k, str) and k.lower().startswith("kms:encryptioncontext:")
        and not any(has_wildcard(v) for v in as_str_list(v_))
        for k, v_ in as_map(block).items()) for op, block in statement.conditions.items())


def _names_copier(value: str) -> bool:
    arn = value.split(":", 5)
    return len(arn) == 6 and arn[2] == "iam" and arn[5].startswith("role/") and naming.is_deploy_role(
        arn[5].rsplit("/", 1)[-1])


def copier_statements(document: Any) -> list[str]:
    """Sids (or ``#<n>``) of statements that name a deploy role (the migration's copier).

    An Allow to it or its exemption from a Deny: both exist only while a tenant moves, on a
    bucket or key tagged :data:`tenants.naming.TAG_MIGRATION_COPY` (ISO-DATA-05/06).
    """
    return [str(s.body.get("Sid") or f"#{n}") for n, s in enumerate(statements(document))
            if any(_names_copier(v) for v in s.strings())]


def open_grants(document: Any, *, tenant: str | None = None, kms: bool = False) -> list[str]:
    """Sids (or ``#<n>``) of a resource policy's Allow statements that grant account-wide.

    An Allow is open if it uses ``NotPrincipal``, or names an account-wide principal
    (:func:`is_account_wide`) without a fence that really fences (:func:`pins_principal`;
    for key policies also :func:`fenced_to_services`), or names a service principal
    without ``aws:SourceAccount``/``aws:SourceArn`` (or an exact encryption context).
    """
    found = []
    for n, statement in enumerate(statements(document)):
        if not statement.allows:
            continue
        principals = statement.principals()
        wide = statement.has_not_principal or any(is_account_wide(k, v) for k, v in principals)
        fenced = pins_principal(statement, tenant=tenant) or (kms and fenced_to_services(statement))
        service = any(k == "Service" for k, _ in principals)
        if (wide and not fenced) or (service and not _service_fenced(statement)):
            found.append(str(statement.body.get("Sid") or f"#{n}"))
    return found
