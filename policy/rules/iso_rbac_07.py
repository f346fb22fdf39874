"""ISO-RBAC-07: no automounted ServiceAccount tokens and no long-lived token Secrets.

``automountServiceAccountToken: false`` only stops the automatic volume: a pod can still
mount the same Kubernetes API token itself through a projected ``serviceAccountToken``
source, whose audience defaults to the API server. Projected tokens for other audiences
(IRSA's ``sts.amazonaws.com``) do not authenticate to the API and stay allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_list, as_map, is_false, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SA_AUTOMOUNT = "Set automountServiceAccountToken: false on the ServiceAccount."
MSG_POD_AUTOMOUNT = ("Set automountServiceAccountToken: false in the pod spec "
                     "(it overrides the ServiceAccount's setting).")
MSG_LONG_LIVED = ("Do not create kubernetes.io/service-account-token Secrets; "
                  "pods get short-lived projected tokens.")

MSG_PROJECTED_API_MOUNT = (
    "Do not mount a projected serviceAccountToken for the Kubernetes API (audience unset or the "
    "API server's); name another audience (IRSA: sts.amazonaws.com).")
#: Audiences the EKS API server accepts (an unset audience means the API server's).
API_AUDIENCES = frozenset({"", "https://kubernetes.default.svc", "kubernetes.default.svc"})
IS_SA = kube.matcher("ServiceAccount")
IS_SECRET = kube.matcher("Secret")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_SA(res.type):
        if not is_false(res.props.get("automountServiceAccountToken")):
            yield MSG_SA_AUTOMOUNT
    elif IS_SECRET(res.type):
        if res.props.get("type") == "kubernetes.io/service-account-token":
            yield MSG_LONG_LIVED
    else:
        template = kube.pod_template(res.type, res.props)
        if not is_false(template.spec.get("automountServiceAccountToken")):
            yield MSG_POD_AUTOMOUNT
        if any(_api_token(source) for volume in template.volumes()
               for source in as_list(as_map(volume.get("projected")).get("sources"))):
            yield MSG_PROJECTED_API_MOUNT


def _api_token(source: object) -> bool:
    if "serviceAccountToken" not in as_map(source):
        return False
    token = as_map(as_map(source).get("serviceAccountToken"))
    return (text(token.get("audience")) or "").rstrip("/") in API_AUDIENCES


RULE = ResourceRule(
    id="ISO-RBAC-07",
    description=(
        "ServiceAccount tokens are not automounted (automountServiceAccountToken: false on the "
        "ServiceAccount and the pod) nor projected for the API server, and no ServiceAccount-token "
        "Secrets exist."
    ),
    severity="high", tiers="NPVD", scope="tenant",
    applies_to=lambda t: IS_SA(t) or IS_SECRET(t) or kube.is_workload(t), check=check)
