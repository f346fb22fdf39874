"""ISO-POD-04: no hostPath volumes (runtime sockets included)."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_HOST_PATH = ("Replace hostPath volumes (including container runtime sockets) with "
                 "emptyDir, PVC, ConfigMap, Secret or projected volumes.")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if any("hostPath" in v for v in kube.pod_template(res.type, res.props).volumes()):
        yield MSG_HOST_PATH


RULE = ResourceRule(
    id="ISO-POD-04",
    description="Tenant pods mount no hostPath volumes, runtime sockets included.",
    severity="critical", tiers="NPVD", scope="tenant",
    applies_to=kube.is_workload, check=check)
