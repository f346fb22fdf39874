"""Every consumer of a tenant's PostgreSQL names takes them from tenants.naming (issue 11.7).

Over the fixture fleet's whole plan: the chatbot's configuration, the ``rds-db:connect``
ARNs, the bootstrap's inputs and the proxy secrets all use the opaque names, and no
resource anywhere carries the old readable ``t_<id>`` spelling.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tenants import naming
from tests.conftest import SamplePlan

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CONNECT_POLICY = "aws:iam/policy:Policy"
BOOTSTRAP = "pulumi-python:dynamic/tenant-platform:TenantDatabaseBootstrap"


def resources(plan: SamplePlan) -> list[dict[str, Any]]:
    assert plan.result.code == 0, plan.result.err
    return [r for stack in plan.document["stacks"] for r in stack["resources"]]


def tenants(plan: SamplePlan) -> list[str]:
    return sorted({t for stack in plan.document["stacks"] for t in stack["tenants"]})


def test_chatbot_reads_its_tenants_names_from_naming(fixture_fleet_plan: SamplePlan) -> None:
    configs = {r["name"].removesuffix("-chat-workload-config"): r["inputs"]["data"]
               for r in resources(fixture_fleet_plan)
               if r["type"] == CONFIG_MAP and r["name"].endswith("-chat-workload-config")}
    assert configs
    for tenant, data in configs.items():
        assert (data["PGUSER"], data["VECTOR_STORE_SCHEMA"]) == (
            naming.db_login_role(tenant), naming.db_schema_name(tenant))


def test_connect_policies_and_bootstraps_use_the_tenants_names(fixture_fleet_plan: SamplePlan) -> None:
    everything = resources(fixture_fleet_plan)
    for tenant in tenants(fixture_fleet_plan):
        (policy,) = [r for r in everything
                     if r["type"] == CONNECT_POLICY and r["name"] == f"{tenant}-db-connect"]
        (statement,) = json.loads(policy["inputs"]["policy"])["Statement"]
        assert statement["Resource"].endswith(f"/{naming.db_login_role(tenant)}")
        (bootstrap,) = [r["inputs"] for r in everything
                        if r["type"] == BOOTSTRAP and r["inputs"]["tenant_id"] == tenant]
        assert (bootstrap["role"], bootstrap["schema"], bootstrap["owner_role"]) == (
            naming.db_login_role(tenant), naming.db_schema_name(tenant), naming.db_owner_role(tenant))


def test_no_resource_carries_a_readable_database_name(fixture_fleet_plan: SamplePlan) -> None:
    text = json.dumps(resources(fixture_fleet_plan))
    for tenant in tenants(fixture_fleet_plan):
        readable = "t_" + tenant.replace("-", "_")
        pattern = rf"(?<![a-z0-9_]){re.escape(readable)}(?:_app|_owner)?(?![a-z0-9_])"
        assert not re.search(pattern, text), tenant
