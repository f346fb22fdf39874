"""Reading AWS policy documents (IAM, S3 bucket, KMS key, Secrets Manager policies).

Documents arrive as JSON strings (the AWS provider's inputs) or objects. A document that
cannot be parsed yields no statements; rules that need a document report its absence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policy.props import as_list, as_map, as_str_list, json_doc, strings

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
    """``*`` or a whole service (``s3:*``)."""
    return action == "*" or action.endswith(":*")
