"""ISO-RBAC-06: each workload runs as its own ServiceAccount, never ``default``."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_DEFAULT_SA = "Set spec.serviceAccountName to the workload's own ServiceAccount, never 'default'."
MSG_BINDS_DEFAULT = "Do not bind roles to the 'default' ServiceAccount."

IS_BINDING = kube.matcher("rbac.authorization.k8s.io/RoleBinding",
                          "rbac.authorization.k8s.io/ClusterRoleBinding")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_BINDING(res.type):
        if any(s.get("kind") == "ServiceAccount" and s.get("name") == "default"
               for s in kube.subjects_of(res.props)):
            yield MSG_BINDS_DEFAULT
        return
    spec = kube.pod_template(res.type, res.props).spec
    account = text(spec.get("serviceAccountName")) or text(spec.get("serviceAccount"))
    if account in (None, "default"):
        yield MSG_DEFAULT_SA


RULE = ResourceRule(
    id="ISO-RBAC-06",
    description=(
        "Each workload runs as a dedicated, non-default ServiceAccount, and no binding grants the"
        " default ServiceAccount anything."
    ),
    severity="medium", tiers="NPVD", scope="tenant",
    applies_to=lambda t: kube.is_workload(t) or IS_BINDING(t), check=check)
