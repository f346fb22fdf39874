"""The compliant baselines break no rule, as whole stacks and one resource kind at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policy.rule import ResourceRule
from policy.rules import ALL
from tests.policy import fixtures as f
from tests.policy.cases import evaluate

RESOURCE_RULES = {r.id for r in ALL if isinstance(r, ResourceRule)}

KINDS: dict[str, Callable[[], dict[str, Any]]] = {
    "namespace": f.namespace, "resource-quota": f.resource_quota, "limit-range": f.limit_range,
    "deny-all": f.deny_all, "allow-dns": f.allow_dns, "allow-gateway": f.allow_gateway,
    "allow-https-egress": f.allow_https_egress, "allow-nothing": f.allow_nothing,
    "allow-callers": f.allow_callers, "sidecar": f.sidecar, "service-account": f.service_account,
    "role": f.role, "role-binding": f.role_binding, "deployment": f.deployment,
    "service": f.service, "virtual-service": f.virtual_service, "vcluster-chart": f.vcluster_chart,
    "kms-key": f.kms_key, "bucket": f.bucket, "tenant-role": f.tenant_role,
    "chatbot-role": f.chatbot_role, "chatbot-policy": f.chatbot_policy,
    "pod-identity": f.pod_identity, "db-secret": f.db_secret, "secret-rotation": f.secret_rotation,
    "eks-cluster": f.eks_cluster, "cni-role": f.cni_role, "cni-attachment": f.cni_attachment,
    "vpc-cni": f.vpc_cni, "node-role": f.node_role, "launch-template": f.launch_template,
    "node-group": f.node_group, "vpc": f.vpc, "flow-log": f.flow_log, "subnet": f.subnet,
    "db-security-group": f.db_security_group, "db-instance": f.db_instance, "db-proxy": f.db_proxy,
    "peer-authentication": f.mesh_peer_authentication, "ecr-repository": f.ecr_repository,
    "storage-class": f.storage_class, "cluster-role-binding": f.monitoring_binding,
    "platform-release": f.platform_release,
    **{f"workload-{k.lower()}": (lambda k=k: f.workload(k))
       for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")},
}


@pytest.mark.parametrize("kind", ["shared", "dedicated"])
def test_baseline_stack_breaks_no_rule(kind: str) -> None:
    stack = f.shared_stack() if kind == "shared" else f.dedicated_stack()
    assert evaluate(stack, kind) == []


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_compliant_resource_passes_every_resource_rule(name: str) -> None:
    found = [v for v in evaluate([KINDS[name]()]) if v["policy"] in RESOURCE_RULES]
    assert found == []


def test_baseline_stacks_exercise_every_resource_rule() -> None:
    """Each resource rule meets at least one resource of its types in a baseline stack."""
    types = {r["type"] for r in f.shared_stack() + f.dedicated_stack()}
    idle = [r.id for r in ALL if isinstance(r, ResourceRule) and not any(r.applies_to(t) for t in types)]
    assert idle == []
