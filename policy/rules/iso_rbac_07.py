"""ISO-RBAC-07: no automounted ServiceAccount tokens and no long-lived token Secrets."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import is_false
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SA_AUTOMOUNT = "Set automountServiceAccountToken: false on the ServiceAccount."
MSG_POD_AUTOMOUNT = ("Set automountServiceAccountToken: false in the pod spec "
                     "(it overrides the ServiceAccount's setting).")
MSG_LONG_LIVED = ("Do not create kubernetes.io/service-account-token Secrets; "
                  "pods get short-lived projected tokens.")

IS_SA = kube.matcher("ServiceAccount")
IS_SECRET = kube.matcher("Secret")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_SA(res.type):
        if not is_false(res.props.get("automountServiceAccountToken")):
            yield MSG_SA_AUTOMOUNT
    elif IS_SECRET(res.type):
        if res.props.get("type") == "kubernetes.io/service-account-token":
            yield MSG_LONG_LIVED
    elif not is_false(kube.pod_template(res.type, res.props).spec.get("automountServiceAccountToken")):
        yield MSG_POD_AUTOMOUNT


RULE = ResourceRule(
    id="ISO-RBAC-07",
    description=(
        "ServiceAccount tokens are not automounted (automountServiceAccountToken: false on the "
        "ServiceAccount and the pod), and no ServiceAccount-token Secrets exist."
    ),
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=lambda t: IS_SA(t) or IS_SECRET(t) or kube.is_workload(t), check=check)
