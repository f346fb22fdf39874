"""ISO-POD-05: only the volume types of the restricted Pod Security Standard."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_VOLUME_TYPE = ("Use only configMap, csi, downwardAPI, emptyDir, ephemeral, "
                   "persistentVolumeClaim, projected and secret volumes.")

ALLOWED = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                     "persistentVolumeClaim", "projected", "secret"})


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    for volume in kube.pod_template(res.type, res.props).volumes():
        if set(volume) - {"name"} - ALLOWED:
            yield MSG_VOLUME_TYPE


RULE = ResourceRule(
    id="ISO-POD-05",
    description=(
        "Tenant pods use only the volume types the restricted Pod Security Standard allows."
    ),
    severity="high", tiers="NPV", scope="tenant",
    applies_to=kube.is_workload, check=check)
