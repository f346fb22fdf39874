"""ISO-POD-04: no hostPath volumes (runtime sockets included), directly or through a PersistentVolume.

A pod that mounts a PersistentVolumeClaim passes the volume-type allowlist, but if the
claim binds a ``hostPath`` or ``local`` PersistentVolume the pod still gets the node's
file system: a tenant's PersistentVolume of those types is the same breach.
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_HOST_PATH = ("Replace hostPath volumes (including container runtime sockets) with "
                 "emptyDir, PVC, ConfigMap, Secret or projected volumes.")
MSG_NODE_VOLUME = ("Do not create hostPath or local PersistentVolumes for tenants; claim "
                   "storage from the platform's StorageClasses.")
IS_PERSISTENT_VOLUME = kube.matcher("PersistentVolume", "PersistentVolumePatch")
NODE_VOLUME_SOURCES = ("hostPath", "local")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if IS_PERSISTENT_VOLUME(res.type):
        if any(source in kube.spec(res.props) for source in NODE_VOLUME_SOURCES):
            yield MSG_NODE_VOLUME
        return
    if any("hostPath" in v for v in kube.pod_template(res.type, res.props).volumes()):
        yield MSG_HOST_PATH


RULE = ResourceRule(
    id="ISO-POD-04",
    description=("Tenant pods mount no hostPath volumes, runtime sockets included, and tenants "
                 "create no hostPath or local PersistentVolumes."),
    severity="critical", tiers="NPVD", scope="tenant",
    applies_to=lambda t: kube.is_workload(t) or IS_PERSISTENT_VOLUME(t), check=check)
