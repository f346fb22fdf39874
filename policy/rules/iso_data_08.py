"""ISO-DATA-08: shared storage deletes released volumes, encrypts, and binds static PVs."""

from __future__ import annotations

from collections.abc import Iterator

from policy import aws, kube, tenancy
from policy.props import as_map, is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_RECLAIM = "Use reclaimPolicy Delete on shared StorageClasses; a retained volume can be re-bound."
MSG_EBS_ENCRYPTION = "Set parameters.encrypted \"true\" on EBS StorageClasses."
MSG_EFS_ENCRYPTION = "Set encrypted true with a customer-managed kmsKeyId on the EFS file system."
MSG_STATIC_PV = ("Pre-bind static PersistentVolumes to their tenant's claim (spec.claimRef in "
                 "the tenant's namespace).")

IS_STORAGE_CLASS = kube.matcher("storage.k8s.io/StorageClass")
IS_PV = kube.matcher("PersistentVolume")
EBS_PROVISIONERS = frozenset({"ebs.csi.aws.com", "kubernetes.io/aws-ebs"})


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    props = res.props
    if IS_STORAGE_CLASS(res.type):
        if props.get("reclaimPolicy", "Delete") != "Delete":
            yield MSG_RECLAIM
        if props.get("provisioner") in EBS_PROVISIONERS \
                and not is_true(as_map(props.get("parameters")).get("encrypted")):
            yield MSG_EBS_ENCRYPTION
    elif IS_PV(res.type):
        claim = as_map(kube.spec(props).get("claimRef"))
        namespace = text(claim.get("namespace"))
        owner = text(kube.labels(props).get(tenancy.LABEL_TENANT))
        if namespace is None or (owner is not None and tenancy.tenant_of_namespace(namespace) != owner):
            yield MSG_STATIC_PV
    elif not (is_true(props.get("encrypted")) and text(props.get("kmsKeyId"))):
        yield MSG_EFS_ENCRYPTION


RULE = ResourceRule(
    id="ISO-DATA-08",
    description=(
        "Shared StorageClasses delete released volumes and encrypt EBS, EFS file systems use a "
        "customer-managed key, and static PersistentVolumes are pre-bound to their tenant's "
        "claim."
    ),
    severity="medium", tiers="NPV", scope="all",
    applies_to=lambda t: IS_STORAGE_CLASS(t) or IS_PV(t) or t == aws.EFS_FILE_SYSTEM, check=check)
