"""ISO-RBAC-04: no escalate, bind or impersonate; never bind a role that carries them.

A tenant binding to a built-in ClusterRole is judged by what that role resolves to in
Kubernetes' bootstrap policy (``policy.rbac``): ``cluster-admin`` holds everything,
``admin`` and ``edit`` impersonate ServiceAccounts (through ``system:aggregate-to-edit``).
Bindings to the stack's own ClusterRoles are resolved by the stack rule ISO-RBAC-08.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from policy import kube, rbac
from policy.props import as_list
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_ESCALATION_VERBS = "Remove the escalate, bind and impersonate verbs."
MSG_ADMIN_ROLE = ("Bind a namespace-scoped tenant Role instead of a built-in ClusterRole that "
                  "grants escalate, bind or impersonate (cluster-admin, admin, edit).")

ESCALATION_VERBS = frozenset({"escalate", "bind", "impersonate", "*"})
def IS_ROLE(type_: str) -> bool:  # noqa: N802 (a predicate constant, as in policy.rbac)
    return rbac.IS_ROLE(type_) or rbac.IS_CLUSTER_ROLE(type_)


def IS_BINDING(type_: str) -> bool:  # noqa: N802
    return rbac.IS_ROLE_BINDING(type_) or rbac.IS_CLUSTER_ROLE_BINDING(type_)


#: Only Kubernetes' built-in roles: a resource rule does not see the stack's other objects.
BUILTINS = rbac.RoleIndex(())


def escalates(rules: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any rule grants escalate, bind or impersonate (``*`` included)."""
    return any(ESCALATION_VERBS & set(as_list(r.get("verbs"))) for r in rules)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    for obj in rbac.objects([res]):
        if obj.kind in ("Role", "ClusterRole"):
            if escalates(kube.rules_of(obj.props)):
                yield MSG_ESCALATION_VERBS
            continue
        ref = kube.role_ref(obj.props)
        if ref.get("kind") == "ClusterRole" and escalates(BUILTINS.resolve(ref, None).rules):
            yield MSG_ADMIN_ROLE


RULE = ResourceRule(
    id="ISO-RBAC-04",
    description=(
        "Tenant roles carry no escalate, bind or impersonate verbs, and no tenant binding refers "
        "to a built-in ClusterRole that does (cluster-admin, admin, edit)."
    ),
    severity="critical", tiers="NPV", scope="tenant",
    applies_to=lambda t: IS_ROLE(t) or IS_BINDING(t), check=check)
