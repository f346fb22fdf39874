"""Mutations that the first wave's gate already stopped, moved onto the fixture fleet.

Each is a one-line change a careless engineer could make; the suite's other modules hold
the classes of issue "the fence holds" (RBAC, network, mesh, IAM, data, fair shares...).
"""

from __future__ import annotations

import pytest

from tests.adversarial.harness import (
    TENANT,
    Mutation,
    Resources,
    assert_check_fails,
    find,
    mutation,
)


@mutation("ISO-POD-01")
def privileged_container(resources: Resources) -> str:
    dep = find(resources, "kubernetes:apps/v1:Deployment", f"{TENANT}-files-workload-deployment")
    dep["inputs"]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    return str(dep["name"])


@mutation("ISO-DATA-01")
def public_rds_instance(resources: Resources) -> str:
    db = find(resources, "aws:rds/instance:Instance")
    db["inputs"]["publiclyAccessible"] = True
    return str(db["name"])


MUTATIONS: list[Mutation] = [privileged_container, public_rds_instance]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops(fleet_plan, tmp_path, m):
    assert_check_fails(fleet_plan, m, tmp_path)
