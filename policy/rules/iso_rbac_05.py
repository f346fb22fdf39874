"""ISO-RBAC-05: tenant roles hold no node, exec, secret-wide or cluster-extension rights."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import kube
from policy.props import as_list
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_EXEC = "Remove create/get on pods/exec, pods/attach and nodes/proxy."
MSG_SECRETS_READ = ("Limit secret reads to named secrets: 'get' with resourceNames, never "
                    "'list' or 'watch' on secrets.")
MSG_SERVICE_STATUS = "Remove write access to services/status."
MSG_CLUSTER_EXTENSIONS = ("Remove rights on webhook configurations, certificatesigningrequests "
                          "and customresourcedefinitions.")

EXEC = (({""}, {"pods/exec", "pods/attach"}, {"create", "get"}),
        ({""}, {"nodes/proxy"}, {"create", "get", "update", "patch"}))
CLUSTER_EXTENSIONS = (
    ({"admissionregistration.k8s.io"}, {"mutatingwebhookconfigurations",
                                        "validatingwebhookconfigurations"}),
    ({"certificates.k8s.io"}, {"certificatesigningrequests", "certificatesigningrequests/approval",
                               "certificatesigningrequests/status", "signers"}),
    ({"apiextensions.k8s.io"}, {"customresourcedefinitions"}),
)


def _broad_secret_read(rule: Mapping[str, Any]) -> bool:
    if kube.grants(rule, {""}, {"secrets"}, {"list", "watch"}):
        return True
    return kube.grants(rule, {""}, {"secrets"}, {"get"}) and not as_list(rule.get("resourceNames"))


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    for rule in kube.rules_of(res.props):
        if any(kube.grants(rule, g, r, v) for g, r, v in EXEC):
            yield MSG_EXEC
        if _broad_secret_read(rule):
            yield MSG_SECRETS_READ
        if kube.grants(rule, {""}, {"services/status"}, {"update", "patch"}):
            yield MSG_SERVICE_STATUS
        if any(kube.grants(rule, g, r, set()) for g, r in CLUSTER_EXTENSIONS):
            yield MSG_CLUSTER_EXTENSIONS


RULE = ResourceRule(
    id="ISO-RBAC-05",
    description=(
        "Tenant roles cannot exec into pods or proxy to nodes, read every secret, write "
        "services/status, or touch webhooks, CSRs and CRDs."
    ),
    severity="high", tiers="NP", scope="tenant",
    applies_to=kube.matcher("rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole"),
    check=check)
