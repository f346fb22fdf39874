"""The file server, chatbot and monitoring of every tenant of the sample fleet, as the real
program declares them: every manifest validates strictly, every pod runs restricted."""

from __future__ import annotations

import pytest

from components.scheduling import has_dedicated_pool
from tenants import naming
from tests.components import manifest_checks
from tests.components.stack_checks import STACKS, descendants, fleet_run, obj

WORKLOAD_COMPONENTS = ("FileServerStack", "ChatbotStack", "TenantMonitoring")


def workload_objects(stack: str) -> list[dict]:
    run = fleet_run(stack)
    roots = [r.name for kind in WORKLOAD_COMPONENTS for r in run.of_type(f"tenant-platform:index:{kind}")]
    return [obj(r) for root in roots for r in descendants(run, root)
            if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm")]


@pytest.mark.parametrize("stack", [s.name for s in STACKS])
def test_every_manifest_of_the_fleets_workloads_validates_strictly(stack):
    objects = workload_objects(stack)
    spec = next(s for s in STACKS if s.name == stack)
    assert (len(objects) > 0) == any(t.record.features.fileserver for t in spec.tenants)
    for manifest in objects:
        manifest_checks.validate(manifest)


@pytest.mark.parametrize("stack", [s.name for s in STACKS])
def test_every_workload_pod_of_the_fleet_runs_restricted_as_its_own_account(stack):
    for deployment in (o for o in workload_objects(stack) if o["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == deployment["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            context = container["securityContext"]
            assert (context["allowPrivilegeEscalation"], context["readOnlyRootFilesystem"]) == (False, True)
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            assert set(container["resources"]) == {"requests", "limits"}
            assert "@sha256:" in container["image"]


@pytest.mark.parametrize("stack", [s.name for s in STACKS])
def test_every_deployment_depends_on_the_node_group_its_pods_are_pinned_to(stack):
    """So Pulumi creates a pool before pinning pods to it, and deletes it only after the pods
    that leave it have rolled elsewhere (docs/migration.md)."""
    run = fleet_run(stack)
    groups = {r.urn: r for r in run.of_type("aws:eks/nodeGroup:NodeGroup")}
    spec = next(s for s in STACKS if s.name == stack)
    pinned = set()
    for deployment in run.of_type("kubernetes:apps/v1:Deployment"):
        selector = obj(deployment)["spec"]["template"]["spec"].get("nodeSelector")
        on = [groups[u].inputs["labels"] for u in deployment.options["dependsOn"] if u in groups]
        assert on == ([selector] if selector else []), deployment.name
        pinned |= {selector[naming.LABEL_TENANT]} if selector else set()
    # Every active node-tier tenant with workloads has them pinned (and so checked above).
    assert pinned == {t.id for t in spec.tenants if has_dedicated_pool(t.tier)
                      and t.record.lifecycle.active and t.record.features.fileserver}
