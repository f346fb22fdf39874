"""Seeded violations of the node, namespace and attribution fences added for issue 11.

Where a pod may land (another pool's taints, a node named outright), whether nodes use a
launch template at all, PSA labels written by a NamespacePatch, and tier labels that would
switch rules off. The older NODE cases live in ``test_rules_node_net``.
"""

from __future__ import annotations

from typing import Any

import pytest

from policy.rules import iso_meta_01, iso_node_02, iso_node_03, iso_ns_01, iso_ns_02
from tenants import naming
from tests.policy import fixtures as f
from tests.policy.cases import Case, adding, alone, changing, check, evaluate, one, params, stack_edit

DEPLOY = "kubernetes:apps/v1:Deployment"
T = ("spec", "template", "spec")
PSA = "pod-security.kubernetes.io/"


def system_pool() -> dict[str, Any]:
    """The platform's system node group: tainted CriticalAddonsOnly, no tenant."""
    return f.resource("aws:eks/nodeGroup:NodeGroup", "system-pool", {
        "clusterName": "tp-prod-cell-apne1-01", "nodeGroupName": "system",
        "nodeRoleArn": f"arn:aws:iam::{f.ACCOUNT}:role/node-role", "subnetIds": ["subnet-a"],
        "taints": [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}],
        "labels": {"tenant-platform.io/pool": "system"},
        "launchTemplate": {"id": "lt-0sys", "version": "1"},
        "tags": {"managed-by": "tenant-platform", "environment": f.ENV}})


def with_system_pool(stack: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return stack + [system_pool()]


def tolerating(name: str, tolerations: list[dict[str, Any]]) -> Any:
    """An edit: the shared stack with a system pool, and one Deployment's tolerations replaced."""
    return lambda stack: changing(DEPLOY, name, T + ("tolerations",), tolerations)(with_system_pool(stack))


def namespace_patch(labels: dict[str, str], name: str = "tenant-acme") -> dict[str, Any]:
    """A NamespacePatch writing ``labels`` onto a Namespace."""
    return f.resource("kubernetes:core/v1:NamespacePatch", "acme-ns-patch", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})


CASES: list[Case] = [
    # ISO-NODE-02: other pools' taints, nodeName
    stack_edit("node02-tolerates-system-pool", "ISO-NODE-02",
               tolerating("acme-fileserver", [{"key": "CriticalAddonsOnly", "operator": "Exists"}]),
               iso_node_02.MSG_FOREIGN_TAINT, about="acme-fileserver"),
    stack_edit("node02-tolerates-system-pool-by-value", "ISO-NODE-02",
               tolerating("bolt-fileserver", [
                   {"key": "tenant", "operator": "Equal", "value": "bolt", "effect": "NoSchedule"},
                   {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]),
               iso_node_02.MSG_FOREIGN_TAINT, about="bolt-fileserver"),
    stack_edit("node02-node-name", "ISO-NODE-02",
               changing(DEPLOY, "acme-fileserver", T + ("nodeName",), "ip-10-0-1-5.ec2.internal"),
               iso_node_02.MSG_NODE_NAME, about="acme-fileserver"),
    # ISO-NODE-03: node groups on the generated launch template
    one("node03-managed-node-group-without-template", "ISO-NODE-03", f.node_group,
        ("launchTemplate",), f.DELETE, iso_node_03.MSG_NO_LAUNCH_TEMPLATE),
    alone("node03-raw-node-group-without-template", "ISO-NODE-03",
          lambda: f.changed(system_pool(), ("launchTemplate",), {"version": "1"}),
          iso_node_03.MSG_NO_LAUNCH_TEMPLATE),
    # ISO-NS-02: NamespacePatch and unlabelled tenant namespaces
    alone("ns02-patch-privileged", "ISO-NS-02",
          lambda: namespace_patch({PSA + "enforce": "privileged"}), iso_ns_02.MSG_ENFORCE),
    alone("ns02-patch-latest", "ISO-NS-02",
          lambda: namespace_patch({PSA + "enforce-version": "latest", PSA + "warn": "baseline"}),
          iso_ns_02.MSG_VERSION, iso_ns_02.MSG_WARN),
    one("ns02-unlabelled-tenant-namespace", "ISO-NS-02", f.namespace, ("metadata", "labels"),
        {"istio-injection": "enabled"},
        iso_ns_02.MSG_ENFORCE, iso_ns_02.MSG_VERSION, iso_ns_02.MSG_AUDIT, iso_ns_02.MSG_WARN),
    # ISO-NS-01: tenant objects that lost their labels on the way to 'default'
    alone("ns01-unlabelled-workload-in-default", "ISO-NS-01", lambda: f.changed(
        f.changed(f.deployment(), ("metadata",), {"name": "fileserver", "namespace": "default"}),
        ("spec", "template", "metadata", "labels"), {"app": "fileserver"}), iso_ns_01.MSG_UNOWNED_DEFAULT),
    alone("ns01-unlabelled-secret-without-namespace", "ISO-NS-01", lambda: f.resource(
        "kubernetes:core/v1:Secret", "db-copy", {"apiVersion": "v1", "kind": "Secret",
                                                 "metadata": {"name": "db"}, "type": "Opaque"}),
        iso_ns_01.MSG_UNOWNED_DEFAULT),
    # ISO-META-01: a tier label the stack's rules do not judge
    stack_edit("meta01-cell-resource-claims-cluster-tier", "ISO-META-01",
               changing(DEPLOY, "acme-fileserver", ("metadata", "labels", "tier"), "cluster"),
               iso_meta_01.MSG_TIER_MISMATCH, about="acme-fileserver"),
    stack_edit("meta01-dedicated-resource-claims-namespace-tier", "ISO-META-01",
               changing(DEPLOY, "delta-fileserver", ("metadata", "labels", "tier"), "namespace"),
               iso_meta_01.MSG_TIER_MISMATCH, about="delta-fileserver", kind="dedicated"),
]


@params(CASES)
def test_rule_reports_seeded_violation(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("toleration", [
    {"key": "CriticalAddonsOnly", "operator": "Equal", "value": "false"},
    {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
], ids=["other-value", "other-effect", "node-condition"])
def test_tolerations_that_match_no_foreign_taint_are_allowed(toleration: dict[str, Any]) -> None:
    stack = tolerating("acme-fileserver", [toleration])(f.shared_stack())
    assert [v for v in evaluate(stack) if v["policy"] == "ISO-NODE-02"] == []


@pytest.mark.parametrize(("toleration", "taint", "expected"), [
    ({"operator": "Exists"}, ("k", "v", "NoSchedule"), True),
    ({"key": "k", "operator": "Exists"}, ("k", "v", "NoExecute"), True),
    ({"key": "k", "value": "v"}, ("k", "v", "NoSchedule"), True),
    ({"key": "k", "value": "w"}, ("k", "v", "NoSchedule"), False),
    ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, ("k", "v", "NoSchedule"), False),
    ({"key": "j", "operator": "Exists"}, ("k", "v", "NoSchedule"), False),
])
def test_toleration_matching_follows_kubernetes(toleration: dict[str, Any],
                                                taint: tuple[str, str, str], expected: bool) -> None:
    assert iso_node_02.tolerates(toleration, taint) is expected


def test_a_namespace_patch_that_leaves_psa_labels_alone_passes() -> None:
    res = namespace_patch({"team": "files"})
    assert [v for v in evaluate([res]) if v["policy"] in ("ISO-NS-01", "ISO-NS-02")] == []


def test_a_patch_of_a_platform_namespace_is_not_a_tenant_namespace() -> None:
    res = namespace_patch({PSA + "enforce": "privileged"}, name="istio-system")
    assert [v for v in evaluate([res]) if v["policy"] == "ISO-NS-02"] == []


def test_a_deployment_patch_lives_where_its_deployment_does() -> None:
    patch = f.resource("kubernetes:apps/v1:DeploymentPatch", "acme-patch", f.deployment()["inputs"])
    assert [v for v in evaluate([patch]) if v["policy"] == "ISO-NS-01"] == []
    moved = f.changed(patch, ("metadata", "namespace"), "kube-system")
    assert [v["message"] for v in evaluate([moved]) if v["policy"] == "ISO-NS-01"] == [
        iso_ns_01.MSG_SYSTEM_NAMESPACE]


def test_meta01_still_follows_the_tenants_true_tier_when_narrowed() -> None:
    stack = changing(DEPLOY, "acme-fileserver", ("metadata", "labels", "tier"), "cluster")(f.shared_stack())
    config = {"ISO-META-01": {"tiers": ["P"]}}
    assert [v for v in evaluate(stack, config=config) if v["policy"] == "ISO-META-01"] == []


def test_a_system_pool_does_not_flag_compliant_tenant_pods() -> None:
    stack = adding(system_pool)(f.shared_stack())
    assert [v for v in evaluate(stack) if v["policy"].startswith(("ISO-NODE", "ISO-META"))] == []


@pytest.mark.parametrize(("type_", "metadata"), [
    ("kubernetes:core/v1:ConfigMap", {"name": "coredns-custom", "namespace": "kube-system"}),
    ("kubernetes:core/v1:ConfigMap", {"name": "mesh", "namespace": "istio-system"}),
    ("kubernetes:karpenter.sh/v1:NodePool", {"name": "spot"}),
], ids=["kube-system", "platform-namespace", "cluster-scoped-custom-kind"])
def test_platform_objects_outside_default_are_not_ns01s_business(type_: str,
                                                                  metadata: dict[str, Any]) -> None:
    res = f.resource(type_, metadata["name"], {"kind": type_.rsplit(":", 1)[-1], "metadata": metadata})
    assert [v for v in evaluate([res]) if v["policy"] == "ISO-NS-01"] == []


# --- ISO-META-01 in a stack without Kubernetes (an offboarded dedicated tenant's data) -------------
def _tagged(name: str, tenant: str, tier: str) -> dict[str, Any]:
    return f.resource("aws:s3/bucket:Bucket", name, {"bucket": name, "tags": {
        naming.LABEL_TENANT: tenant, naming.LABEL_TIER: tier, "managed-by": "tenant-platform",
        "environment": f.ENV}})


def _meta01(resources: list[dict[str, Any]], kind: str = "dedicated") -> list[str]:
    return [v["message"] for v in evaluate(resources, kind=kind) if v["policy"] == "ISO-META-01"]


def test_a_data_only_dedicated_stack_of_one_tenant_passes_meta01() -> None:
    # Judged at all: the same resource in a cell (which holds no cluster tier) fails.
    assert _meta01([_tagged("delta-files", "delta", "cluster")], kind="shared") == [
        iso_meta_01.MSG_UNKNOWN_TENANT]
    data_only = [_tagged("delta-files", "delta", "cluster"), _tagged("delta-logs", "delta", "cluster")]
    assert _meta01(data_only) == []


@pytest.mark.parametrize("resources", [
    [_tagged("delta-files", "delta", "cluster"), _tagged("acme-files", "acme", "cluster")],
    [_tagged("delta-files", "delta", "cluster"), _tagged("delta-logs", "delta", "namespace")],
    [_tagged("delta-files", "delta", "namespace")],
], ids=["two-tenants", "two-tiers", "tier-the-stack-does-not-hold"])
def test_without_a_namespace_anything_but_one_tenant_of_the_stacks_tier_still_fails(
        resources: list[dict[str, Any]]) -> None:
    assert iso_meta_01.MSG_UNKNOWN_TENANT in _meta01(resources)
