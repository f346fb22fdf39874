"""Fair shares: careless changes that would let one tenant starve the cell, on the fixture fleet.

Each mutation is one edit of the plan a careless change could make to a tenant's quota,
LimitRange or chatbot token budget; ``tenantctl check`` must name the rule and the culprit.
Values are judged against the tenant's plan (``tenants/plans.yaml``), so "above the plan"
is computed from the plan table, never written here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tenants.plans import load_plans
from tenants.quantity import parse_quantity
from tests.adversarial.harness import (
    DEDICATED_STACK,
    DEDICATED_TENANT,
    NODE_TENANT,
    OTHER,
    TENANT,
    VCLUSTER_TENANT,
    Mutation,
    Resources,
    assert_check_fails,
    find,
    mutation,
)

QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMITS = "kubernetes:core/v1:LimitRange"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _quota(resources: Resources, tenant: str = TENANT) -> dict[str, Any]:
    return find(resources, QUOTA, f"{tenant}-quota")


def _hard(resources: Resources, tenant: str = TENANT) -> dict[str, Any]:
    return _quota(resources, tenant)["inputs"]["spec"]["hard"]


def _plan(resource: dict[str, Any]):
    return load_plans()[resource["inputs"]["metadata"]["labels"]["plan"]]


def _remove(resources: Resources, type_: str, name: str) -> str:
    victim = find(resources, type_, name)
    resources.remove(victim)
    return str(victim["name"])


def _doubled(quantity: str) -> str:
    return str(int(parse_quantity(quantity) * 2))


@mutation("ISO-NS-04")
def quota_with_scopes(resources: Resources) -> str:
    _quota(resources)["inputs"]["spec"]["scopes"] = ["NotBestEffort"]
    return f"{TENANT}-quota"


@mutation("ISO-NS-04")
def quota_with_scope_selector(resources: Resources) -> str:
    _quota(resources, OTHER)["inputs"]["spec"]["scopeSelector"] = {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["tenant"]}]}
    return f"{OTHER}-quota"


@mutation("ISO-NS-03")
def scoped_quota_is_the_namespaces_only_cap(resources: Resources) -> str:
    _quota(resources)["inputs"]["spec"]["scopes"] = ["Terminating"]
    return f"{TENANT}-namespace"


@mutation("ISO-NS-03")
def quota_without_limits_memory(resources: Resources) -> str:
    del _hard(resources)["limits.memory"]
    return f"{TENANT}-quota"


@mutation("ISO-NS-03")
def quota_without_ephemeral_storage(resources: Resources) -> str:
    del _hard(resources, VCLUSTER_TENANT)["limits.ephemeral-storage"]
    return f"{VCLUSTER_TENANT}-quota"


@mutation("ISO-NS-03")
def quota_cpu_above_the_plan(resources: Resources) -> str:
    quota = _quota(resources)
    quota["inputs"]["spec"]["hard"]["requests.cpu"] = _doubled(_plan(quota).quota.cpu)
    return f"{TENANT}-quota"


@mutation("ISO-NS-03")
def quota_pods_above_the_plan(resources: Resources) -> str:
    quota = _quota(resources, OTHER)
    quota["inputs"]["spec"]["hard"]["pods"] = str(_plan(quota).quota.pods + 1)
    return f"{OTHER}-quota"


@mutation("ISO-NS-03")
def quota_removed(resources: Resources) -> str:
    _remove(resources, QUOTA, f"{TENANT}-quota")
    return f"{TENANT}-namespace"


@mutation("ISO-NS-04")
def nodeports_allowed(resources: Resources) -> str:
    _hard(resources)["services.nodeports"] = "3"
    return f"{TENANT}-quota"


@mutation("ISO-NS-04")
def load_balancers_allowed(resources: Resources) -> str:
    _hard(resources, OTHER)["services.loadbalancers"] = "1"
    return f"{OTHER}-quota"


@mutation("ISO-NS-04")
def quota_without_pod_count(resources: Resources) -> str:
    del _hard(resources)["pods"]
    return f"{TENANT}-quota"


@mutation("ISO-NS-05")
def limit_range_removed(resources: Resources) -> str:
    _remove(resources, LIMITS, f"{TENANT}-limits")
    return f"{TENANT}-namespace"


@mutation("ISO-NS-05")
def limit_range_max_above_the_plan(resources: Resources) -> str:
    limits = find(resources, LIMITS, f"{TENANT}-limits")
    container = next(i for i in limits["inputs"]["spec"]["limits"] if i["type"] == "Container")
    container["max"]["memory"] = _doubled(_plan(limits).limit_range.max.memory)
    return f"{TENANT}-limits"


@mutation("ISO-NS-05")
def pvc_max_above_the_plan(resources: Resources) -> str:
    limits = find(resources, LIMITS, f"{OTHER}-limits")
    pvc = next(i for i in limits["inputs"]["spec"]["limits"] if i["type"] == "PersistentVolumeClaim")
    pvc["max"]["storage"] = _doubled(_plan(limits).limit_range.pvc.max)
    return f"{OTHER}-limits"


@mutation("ISO-NS-05")
def limit_range_without_pod_max(resources: Resources) -> str:
    limits = find(resources, LIMITS, f"{TENANT}-limits")
    spec = limits["inputs"]["spec"]
    spec["limits"] = [i for i in spec["limits"] if i["type"] != "Pod"]
    return f"{TENANT}-limits"


@mutation("ISO-FAIR-01")
def budget_guard_removed(resources: Resources) -> str:
    _remove(resources, FUNCTION, f"{TENANT}-chat-token-budget-guard")
    return f"{TENANT}-chat-token-budget-alarm"


@mutation("ISO-FAIR-01")
def budget_alarm_removed(resources: Resources) -> str:
    _remove(resources, ALARM, f"{TENANT}-chat-token-budget-alarm")
    return f"{TENANT}-chatbot-role"


@mutation("ISO-FAIR-01")
def budget_alarm_above_the_plan(resources: Resources) -> str:
    alarm = find(resources, ALARM, f"{NODE_TENANT}-chat-token-budget-alarm")
    budget = load_plans()[alarm["inputs"]["tags"]["plan"]].chatbot_budget
    alarm["inputs"]["threshold"] = budget.tokens_per_day * 10
    return f"{NODE_TENANT}-chat-token-budget-alarm"


@mutation("ISO-FAIR-01")
def budget_alarm_actions_dropped(resources: Resources) -> str:
    find(resources, ALARM, f"{TENANT}-chat-token-budget-alarm")["inputs"]["alarmActions"] = []
    return f"{TENANT}-chat-token-budget-alarm"


@mutation("ISO-FAIR-01")
def alarms_may_not_invoke_the_guard(resources: Resources) -> str:
    _remove(resources, PERMISSION, f"{TENANT}-chat-token-budget-guard-from-alarm")
    return f"{TENANT}-chat-token-budget-guard"


@mutation("ISO-FAIR-01", stack=DEDICATED_STACK)
def chatbot_invokes_the_model_directly(resources: Resources) -> str:
    policy = find(resources, ROLE_POLICY, f"{DEDICATED_TENANT}-chat-permissions")
    document = json.loads(policy["inputs"]["policy"])
    for statement in document["Statement"]:
        if "bedrock:InferenceProfileArn" in json.dumps(statement.get("Condition", {})):
            del statement["Condition"]  # the model, no longer only through the tenant's profiles
    policy["inputs"]["policy"] = json.dumps(document)
    return f"{DEDICATED_TENANT}-chat-permissions"


MUTATIONS: list[Mutation] = [
    quota_with_scopes, quota_with_scope_selector, scoped_quota_is_the_namespaces_only_cap,
    quota_without_limits_memory, quota_without_ephemeral_storage, quota_cpu_above_the_plan,
    quota_pods_above_the_plan, quota_removed, nodeports_allowed,
    load_balancers_allowed, quota_without_pod_count, limit_range_removed, limit_range_max_above_the_plan,
    pvc_max_above_the_plan, limit_range_without_pod_max, budget_guard_removed, budget_alarm_removed,
    budget_alarm_above_the_plan, budget_alarm_actions_dropped, alarms_may_not_invoke_the_guard,
    chatbot_invokes_the_model_directly,
]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops(fleet_plan, tmp_path, m):
    assert_check_fails(fleet_plan, m, tmp_path)
