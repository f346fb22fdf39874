"""ISO-RBAC-05: tenant roles hold no node, exec, proxy, token, secret-wide or cluster-extension rights.

Judged on tenant Roles and ClusterRoles, and on tenant bindings to Kubernetes' built-in
ClusterRoles as the bootstrap policy resolves them (``edit`` and ``admin`` hold
``pods/exec`` and secret reads through aggregation; ``policy.rbac``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import kube, rbac
from policy.props import as_list
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_EXEC = ("Remove create/get on pods/exec, pods/attach, pods/portforward, the pods and services "
            "proxy subresources and nodes/proxy: they reach into pods past NetworkPolicy and mesh.")
MSG_SECRETS_READ = ("Limit secret reads to named secrets: 'get' with resourceNames, never "
                    "'list' or 'watch' on secrets.")
MSG_SERVICE_STATUS = "Remove write access to services/status."
MSG_CLUSTER_EXTENSIONS = ("Remove rights on webhook configurations, certificatesigningrequests "
                          "and customresourcedefinitions.")
MSG_TOKENS = ("Remove create on serviceaccounts/token: it mints tokens of any ServiceAccount "
              "of the namespace.")

EXEC = (({""}, {"pods/exec", "pods/attach", "pods/portforward", "pods/proxy", "services/proxy"},
         {"create", "get"}),
        ({""}, {"nodes/proxy"}, {"create", "get", "update", "patch"}))
CLUSTER_EXTENSIONS = (
    ({"admissionregistration.k8s.io"}, {"mutatingwebhookconfigurations",
                                        "validatingwebhookconfigurations"}),
    ({"certificates.k8s.io"}, {"certificatesigningrequests", "certificatesigningrequests/approval",
                               "certificatesigningrequests/status", "signers"}),
    ({"apiextensions.k8s.io"}, {"customresourcedefinitions"}),
)
#: Only Kubernetes' built-in roles: the stack's own are resolved by ISO-RBAC-08.
BUILTINS = rbac.RoleIndex(())


def _broad_secret_read(rule: Mapping[str, Any]) -> bool:
    if kube.grants(rule, {""}, {"secrets"}, {"list", "watch"}):
        return True
    return kube.grants(rule, {""}, {"secrets"}, {"get"}) and not as_list(rule.get("resourceNames"))


def judge(rules: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """The messages for a list of RBAC rules."""
    for rule in rules:
        if any(kube.grants(rule, g, r, v) for g, r, v in EXEC):
            yield MSG_EXEC
        if _broad_secret_read(rule):
            yield MSG_SECRETS_READ
        if kube.grants(rule, {""}, {"services/status"}, {"update", "patch"}):
            yield MSG_SERVICE_STATUS
        if any(kube.grants(rule, g, r, set()) for g, r in CLUSTER_EXTENSIONS):
            yield MSG_CLUSTER_EXTENSIONS
        if kube.grants(rule, {""}, {"serviceaccounts/token"}, {"create"}):
            yield MSG_TOKENS


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    for obj in rbac.objects([res]):
        if obj.kind in ("Role", "ClusterRole"):
            yield from judge(kube.rules_of(obj.props))
            continue
        ref = kube.role_ref(obj.props)
        if ref.get("kind") == "ClusterRole":
            yield from judge(BUILTINS.resolve(ref, None).rules)


RULE = ResourceRule(
    id="ISO-RBAC-05",
    description=(
        "Tenant roles, and the built-in roles tenant bindings refer to, cannot exec, attach, "
        "port-forward or proxy into pods or nodes, mint ServiceAccount tokens, read every "
        "secret, write services/status, or touch webhooks, CSRs and CRDs."
    ),
    severity="high", tiers="NP", scope="tenant",
    applies_to=lambda t: any(is_(t) for is_ in (rbac.IS_ROLE, rbac.IS_CLUSTER_ROLE,
                                                rbac.IS_ROLE_BINDING, rbac.IS_CLUSTER_ROLE_BINDING)),
    check=check)
