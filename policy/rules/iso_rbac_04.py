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
IS_ROLE = kube.matcher("rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole")
IS_BINDING = kube.matcher("rbac.authorization.k8s.io/RoleBinding",
                          "rbac.authorization.k8s.io/ClusterRoleBinding")
#: Only Kubernetes' built-in roles: a resource rule does not see the stack's other objects.
BUILTINS = rbac.RoleIndex(())


def escalates(rules: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any rule grants escalate, bind or impersonate (``*`` included)."""
    return any(ESCALATION_VERBS & set(as_list(r.get("verbs"))) for r in rules)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_ROLE(res.type):
        if escalates(kube.rules_of(res.props)):
            yield MSG_ESCALATION_VERBS
        return
    ref = kube.role_ref(res.props)
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
