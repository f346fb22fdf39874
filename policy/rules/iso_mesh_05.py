"""ISO-MESH-05: tenant pods cannot opt out of their sidecar."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_INJECTION_OFF = "Remove sidecar.istio.io/inject: \"false\" from the pod template."
MSG_TRAFFIC_EXCLUDED = "Remove traffic.sidecar.istio.io/exclude* annotations from the pod template."

INJECT = "sidecar.istio.io/inject"
EXCLUDE_PREFIX = "traffic.sidecar.istio.io/exclude"


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    template = kube.pod_template(res.type, res.props)
    if str(template.annotations.get(INJECT)).lower() == "false" \
            or str(template.labels.get(INJECT)).lower() == "false":
        yield MSG_INJECTION_OFF
    if any(isinstance(k, str) and k.startswith(EXCLUDE_PREFIX) for k in template.annotations):
        yield MSG_TRAFFIC_EXCLUDED


RULE = ResourceRule(
    id="ISO-MESH-05",
    description=(
        "Tenant pods neither disable sidecar injection nor exclude traffic from the sidecar."
    ),
    severity="high", tiers="NP", scope="tenant",
    applies_to=kube.is_workload, check=check)
