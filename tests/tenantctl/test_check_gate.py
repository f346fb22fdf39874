"""The pull-request gate: break one thing in a saved plan and `tenantctl check` stops it.

Each case takes the sample fleet's real plan.json, changes exactly one resource the way a
careless change would, and expects exit 1 with a line naming the rule and the resource.
Pod-template breakages live in tests/adversarial/test_pods.py, on the fixture fleet.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import run_cli

STACK = "shared-f1"  # the fixture fleet (tests/fixtures/fleet), never the sample registry
TENANT, OTHER = "alpha", "anvil"
Resources = list[dict[str, Any]]


def _one(resources: Resources, type_: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in resources if r["type"] == type_ and (name is None or r["name"] == name)]
    assert found, f"no {type_} {name or ''} in the plan"
    return found[0]


def nodeport(resources: Resources) -> str:
    svc = _one(resources, "kubernetes:core/v1:Service", f"{TENANT}-files-workload-service")
    svc["inputs"]["spec"]["type"] = "NodePort"
    return svc["name"]


def public_rds(resources: Resources) -> str:
    db = _one(resources, "aws:rds/instance:Instance")
    db["inputs"]["publiclyAccessible"] = True
    return db["name"]


def no_default_deny(resources: Resources) -> str:
    policy = _one(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{TENANT}-netpol-default-deny")
    resources.remove(policy)
    return f"{TENANT}-namespace"  # the Namespace resource left without one


def permissive_mtls(resources: Resources) -> str:
    peer = _one(resources, "kubernetes:security.istio.io/v1:PeerAuthentication",
                f"{TENANT}-mesh-peer-authentication")
    peer["inputs"]["spec"]["mtls"]["mode"] = "PERMISSIVE"
    return peer["name"]


def cluster_role_binding(resources: Resources) -> str:
    template = _one(resources, "kubernetes:core/v1:Namespace")
    binding = copy.deepcopy(template)
    binding.update(type="kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                   name="sneaky-binding",
                   urn=template["urn"].rsplit("::", 2)[0]
                   + "::kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding::sneaky-binding")
    binding["inputs"] = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "sneaky", "labels": {"tenant": TENANT, "tier": "namespace"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "Group", "name": f"tenant:{TENANT}:admins",
                      "apiGroup": "rbac.authorization.k8s.io"}]}
    resources.append(binding)
    return "sneaky-binding"


def no_public_access_block(resources: Resources) -> str:
    block = _one(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                 f"{TENANT}-files-storage-files-public-access-block")
    resources.remove(block)
    return f"{TENANT}-files-storage-files"


def other_tenants_bucket(resources: Resources) -> str:
    policy = _one(resources, "aws:iam/rolePolicy:RolePolicy", f"{TENANT}-files-permissions")
    document = json.loads(policy["inputs"]["policy"])
    document["Statement"].append({"Sid": "Peek", "Effect": "Allow", "Action": ["s3:GetObject"],
                                  "Resource": [f"arn:aws:s3:::tp-prod-{OTHER}-files/*"]})
    policy["inputs"]["policy"] = json.dumps(document)
    return policy["name"]


CASES: list[tuple[Callable[[Resources], str], str]] = [
    (nodeport, "ISO-NET-05"),
    (public_rds, "ISO-DATA-01"),
    (no_default_deny, "ISO-NET-01"),
    (permissive_mtls, "ISO-MESH-01"),
    (cluster_role_binding, "ISO-RBAC-01"),
    (no_public_access_block, "ISO-DATA-05"),
    (other_tenants_bucket, "ISO-IAM-04"),
]


def test_saved_plan_passes_the_gate(fixture_fleet_plan):
    result = run_cli("check", "--plan", str(fixture_fleet_plan.out / "plan.json"))
    assert result.code == 0, result.out[-2000:]


@pytest.mark.parametrize(("breakage", "rule"), CASES, ids=[c[0].__name__ for c in CASES])
def test_check_stops_a_plan_with_one_thing_broken(fixture_fleet_plan, tmp_path, breakage, rule):
    document = copy.deepcopy(fixture_fleet_plan.document)
    stack = next(s for s in document["stacks"] if s["name"] == STACK)
    culprit = breakage(stack["resources"])
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    result = run_cli("check", "--plan", str(path))
    assert result.code == 1, result.out[-2000:]
    lines = [line for line in result.out.splitlines() if "[mandatory]" in line and f" {rule} " in line]
    assert lines, f"{rule} not reported:\n{result.out[-3000:]}"
    assert any(culprit in line for line in lines), lines
