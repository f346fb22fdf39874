"""Seeded violations of the fair-share rules: ISO-NS-03 (quota coverage and plan), ISO-NS-04
(unscoped, counts, no NodePort/LoadBalancer) and ISO-NS-05 (LimitRange defaults and plan maxima).

The baseline quota and LimitRange are the fixture tenants' plan (``standard``) as the
platform renders them; every case changes one thing the way a careless edit would.
"""

from __future__ import annotations

from typing import Any

from policy.rules import iso_fair_01, iso_ns_03, iso_ns_04, iso_ns_05
from tenants.plans import QUOTA_COMPUTE_KEYS, load_plans
from tests.policy import fixtures as f
from tests.policy.cases import Case, adding, changing, check, evaluate, one, params, stack_edit, without

QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMITS = "kubernetes:core/v1:LimitRange"
NS = "kubernetes:core/v1:Namespace"
HARD = ("spec", "hard")
CONTAINER, POD, PVC = (("spec", "limits", i) for i in range(3))
STANDARD = load_plans()["standard"]
ENTERPRISE = load_plans()["enterprise"]
MISSING = iso_ns_03.MISSING
ABOVE = iso_ns_03.MSG_ABOVE_PLAN
LR_ABOVE = iso_ns_05.MSG_ABOVE_PLAN
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ACME_GUARD = "tp-prod-acme-token-budget-guard"


def second_quota(**spec: Any) -> dict[str, Any]:
    """Another quota in acme's namespace (a tenant-facing quota a careless change adds)."""
    return f.resource(QUOTA, "acme-extra-quota", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": f.meta("extra", "acme"),
        "spec": {"hard": {"requests.cpu": "1"}, **spec}})


CASES: list[Case] = [
    # ISO-NS-03: coverage, one case per resource name the quota must cap
    *[stack_edit(f"ns03-no-{key}", "ISO-NS-03", changing(QUOTA, "acme-quota", (*HARD, key), f.DELETE),
                 MISSING[key], about="acme-quota") for key in QUOTA_COMPUTE_KEYS],
    stack_edit("ns03-no-quota", "ISO-NS-03", without(QUOTA, "acme-quota"), iso_ns_03.MSG_NO_QUOTA,
               about="acme-namespace"),
    stack_edit("ns03-quota-elsewhere", "ISO-NS-03",
               changing(QUOTA, "bolt-quota", ("metadata", "namespace"), "tenant-acme"),
               iso_ns_03.MSG_NO_QUOTA, about="bolt-namespace"),
    stack_edit("ns03-only-quota-scoped", "ISO-NS-03",
               changing(QUOTA, "acme-quota", ("spec", "scopes"), ["NotBestEffort"]),
               iso_ns_03.MSG_NO_QUOTA, about="acme-namespace"),
    stack_edit("ns03-only-quota-scope-selector", "ISO-NS-03",
               changing(QUOTA, "acme-quota", ("spec", "scopeSelector"), {"matchExpressions": [
                   {"scopeName": "PriorityClass", "operator": "In", "values": ["tenant"]}]}),
               iso_ns_03.MSG_NO_QUOTA, about="acme-namespace"),
    stack_edit("ns03-no-spec", "ISO-NS-03", changing(QUOTA, "acme-quota", ("spec",), f.DELETE),
               *dict.fromkeys(MISSING.values()), about="acme-quota"),
    # ISO-NS-03: values within the plan
    stack_edit("ns03-cpu-above-plan", "ISO-NS-03",
               changing(QUOTA, "acme-quota", (*HARD, "requests.cpu"), "5"),
               ABOVE, about="acme-quota"),
    stack_edit("ns03-limits-memory-above-plan", "ISO-NS-03",
               changing(QUOTA, "acme-quota", (*HARD, "limits.memory"), ENTERPRISE.quota.limits_memory),
               ABOVE, about="acme-quota"),
    stack_edit("ns03-ephemeral-above-plan-other-unit", "ISO-NS-03",
               changing(QUOTA, "acme-quota", (*HARD, "limits.ephemeral-storage"), "21475M"),
               ABOVE, about="acme-quota"),
    stack_edit("ns03-pods-above-plan", "ISO-NS-03", changing(QUOTA, "acme-quota", (*HARD, "pods"), "26"),
               ABOVE, about="acme-quota"),
    stack_edit("ns03-not-a-quantity", "ISO-NS-03",
               changing(QUOTA, "acme-quota", (*HARD, "limits.cpu"), "lots"),
               iso_ns_03.MSG_CPU, about="acme-quota"),
    stack_edit("ns03-plan-label-unknown", "ISO-NS-03",
               changing(NS, "acme-namespace", ("metadata", "labels", "plan"), "platinum"),
               iso_ns_03.MSG_UNKNOWN_PLAN, about="acme-namespace"),
    stack_edit("ns03-plan-label-removed", "ISO-NS-03",
               changing(NS, "acme-namespace", ("metadata", "labels", "plan"), f.DELETE),
               iso_ns_03.MSG_UNKNOWN_PLAN, about="acme-namespace"),
    # ISO-NS-04
    one("ns04-scopes", "ISO-NS-04", f.resource_quota, ("spec", "scopes"), ["BestEffort"],
        iso_ns_04.MSG_SCOPED),
    one("ns04-scope-selector", "ISO-NS-04", f.resource_quota, ("spec", "scopeSelector"),
        {"matchExpressions": [{"scopeName": "Terminating", "operator": "Exists"}]}, iso_ns_04.MSG_SCOPED),
    one("ns04-nodeports-missing", "ISO-NS-04", f.resource_quota, (*HARD, "services.nodeports"),
        f.DELETE, iso_ns_04.MSG_NODEPORTS),
    one("ns04-nodeports-allowed", "ISO-NS-04", f.resource_quota, (*HARD, "services.nodeports"), "2",
        iso_ns_04.MSG_NODEPORTS),
    one("ns04-loadbalancers-allowed", "ISO-NS-04", f.resource_quota, (*HARD, "services.loadbalancers"),
        "1", iso_ns_04.MSG_LOADBALANCERS),
    *[one(f"ns04-no-{key}", "ISO-NS-04", f.resource_quota, (*HARD, key), f.DELETE, message)
      for key, message in iso_ns_04.COUNTS.items()],
    one("ns04-no-hard", "ISO-NS-04", f.resource_quota, ("spec",), f.DELETE,
        iso_ns_04.MSG_NODEPORTS, iso_ns_04.MSG_LOADBALANCERS, *iso_ns_04.COUNTS.values()),
    # ISO-NS-05
    stack_edit("ns05-no-limitrange", "ISO-NS-05", without(LIMITS, "bolt-limits"),
               iso_ns_05.MSG_NO_LIMITRANGE, about="bolt-namespace"),
    stack_edit("ns05-container-max-above-plan", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "max", "memory"), "64Gi"),
               LR_ABOVE, about="acme-limits"),
    stack_edit("ns05-pod-max-above-plan", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*POD, "max", "cpu"), "64"),
               LR_ABOVE, about="acme-limits"),
    stack_edit("ns05-pvc-max-above-plan", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*PVC, "max", "storage"), "1Ti"),
               LR_ABOVE, about="acme-limits"),
    stack_edit("ns05-no-container-max", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "max"), f.DELETE),
               iso_ns_05.MSG_CONTAINER_MAX, about="acme-limits"),
    stack_edit("ns05-no-ephemeral-default", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "default", "ephemeral-storage"), f.DELETE),
               iso_ns_05.MSG_CONTAINER_DEFAULTS, about="acme-limits"),
    stack_edit("ns05-default-above-max", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "default", "cpu"), "3"),
               iso_ns_05.MSG_DEFAULT_ABOVE_MAX, about="acme-limits"),
    stack_edit("ns05-only-pod-limits", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "type"), "Pod"),
               iso_ns_05.MSG_CONTAINER_MAX, iso_ns_05.MSG_CONTAINER_DEFAULTS, iso_ns_05.MSG_CONTAINER_MIN,
               about="acme-limits"),
    stack_edit("ns05-no-pvc-entry", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*PVC, "type"), "Other"),
               iso_ns_05.MSG_PVC_MAX, about="acme-limits"),
    stack_edit("ns05-no-pod-entry", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*POD, "type"), "Other"),
               iso_ns_05.MSG_POD_MAX, about="acme-limits"),
    stack_edit("ns05-min-above-max", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "min", "memory"), "5Gi"),
               iso_ns_05.MSG_DEFAULT_ABOVE_MAX, about="acme-limits"),
    stack_edit("ns05-plan-label-unknown", "ISO-NS-05",
               changing(NS, "acme-namespace", ("metadata", "labels", "plan"), "platinum"),
               iso_ns_05.MSG_UNKNOWN_PLAN, about="acme-namespace"),
    # ISO-FAIR-01 (stack): the chatbot token budget is enforced
    stack_edit("fair01-no-alarm", "ISO-FAIR-01", without(ALARM, "acme-token-alarm"),
               iso_fair_01.MSG_NO_ALARM, about="acme-chatbot-role"),
    stack_edit("fair01-alarm-on-other-metrics", "ISO-FAIR-01",
               changing(ALARM, "acme-token-alarm", ("metricQueries", 0, "metric", "metricName"),
                        "Invocations"),
               iso_fair_01.MSG_NO_ALARM, about="acme-chatbot-role"),
    stack_edit("fair01-threshold-above-plan", "ISO-FAIR-01",
               changing(ALARM, "acme-token-alarm", ("threshold",), ENTERPRISE.chatbot_budget.tokens_per_day),
               iso_fair_01.MSG_ABOVE_PLAN, about="acme-token-alarm"),
    stack_edit("fair01-no-threshold", "ISO-FAIR-01",
               changing(ALARM, "acme-token-alarm", ("threshold",), f.DELETE),
               iso_fair_01.MSG_ABOVE_PLAN, about="acme-token-alarm"),
    stack_edit("fair01-alarm-plan-unknown", "ISO-FAIR-01",
               changing(ALARM, "acme-token-alarm", ("tags", "plan"), "platinum"),
               iso_fair_01.MSG_UNKNOWN_PLAN, about="acme-token-alarm"),
    stack_edit("fair01-weekly-period", "ISO-FAIR-01",
               changing(ALARM, "acme-token-alarm", ("metricQueries", 0, "metric", "period"), 604800),
               iso_fair_01.MSG_PERIOD, about="acme-token-alarm"),
    stack_edit("fair01-no-guard", "ISO-FAIR-01", without(FUNCTION, "acme-budget-guard"),
               iso_fair_01.MSG_NO_GUARD, about="acme-token-alarm"),
    stack_edit("fair01-guard-on-another-role", "ISO-FAIR-01",
               changing(FUNCTION, "acme-budget-guard", ("environment", "variables", "ROLE_NAME"),
                        "tp-prod-bolt-chatbot"),
               iso_fair_01.MSG_NO_GUARD, about="acme-token-alarm"),
    stack_edit("fair01-no-alarm-actions", "ISO-FAIR-01",
               changing(ALARM, "acme-token-alarm", ("alarmActions",), []),
               iso_fair_01.MSG_NOT_WIRED, about="acme-token-alarm"),
    stack_edit("fair01-no-ok-actions", "ISO-FAIR-01",
               changing(ALARM, "acme-token-alarm", ("okActions",), f.DELETE),
               iso_fair_01.MSG_NOT_WIRED, about="acme-token-alarm"),
    stack_edit("fair01-guard-reads-another-alarm", "ISO-FAIR-01",
               changing(FUNCTION, "acme-budget-guard", ("environment", "variables", "ALARM_NAME"), "other"),
               iso_fair_01.MSG_GUARD_ALARM, about="acme-budget-guard"),
    stack_edit("fair01-no-permission", "ISO-FAIR-01", without(PERMISSION, "acme-budget-guard-from-alarm"),
               iso_fair_01.MSG_NO_PERMISSION, about="acme-budget-guard"),
    stack_edit("fair01-permission-for-events-only", "ISO-FAIR-01",
               changing(PERMISSION, "acme-budget-guard-from-alarm", ("principal",), "events.amazonaws.com"),
               iso_fair_01.MSG_NO_PERMISSION, about="acme-budget-guard"),
    stack_edit("fair01-direct-model-grant", "ISO-FAIR-01",
               changing(ROLE_POLICY, "acme-chatbot-bedrock", ("policy",), f.doc(
                   {"Effect": "Allow", "Action": "bedrock:InvokeModel",
                    "Resource": f"arn:aws:bedrock:{f.REGION}::foundation-model/{f.MODEL}"})),
               iso_fair_01.MSG_UNMETERED, about="acme-chatbot-bedrock"),
    stack_edit("fair01-bedrock-star", "ISO-FAIR-01",
               changing(ROLE_POLICY, "acme-chatbot-bedrock", ("policy",), f.doc(
                   {"Effect": "Allow", "Action": ["bedrock:*"], "Resource": [f.profile_arn("acme")]},
                   {"Effect": "Allow", "Action": ["bedrock:Invoke*"], "Resource": "*"})),
               iso_fair_01.MSG_UNMETERED, about="acme-chatbot-bedrock"),
    stack_edit("fair01-not-resource", "ISO-FAIR-01",
               changing(ROLE_POLICY, "acme-chatbot-bedrock", ("policy",), f.doc(
                   {"Effect": "Allow", "Action": "bedrock:InvokeModelWithResponseStream",
                    "NotResource": f.profile_arn("bolt")})),
               iso_fair_01.MSG_UNMETERED, about="acme-chatbot-bedrock"),
]


@params(CASES)
def test_rule_reports_seeded_violation(case: Case) -> None:
    check(case)


def _messages(resources: list[dict[str, Any]], rule: str) -> list[str]:
    return [v["message"] for v in evaluate(resources) if v["policy"] == rule]


def test_baseline_breaks_no_fair_share_rule():
    stack = f.shared_stack()
    assert [v for v in evaluate(stack) if v["policy"] in ("ISO-NS-03", "ISO-NS-04", "ISO-NS-05")] == []


def test_a_second_tighter_quota_is_fine_and_a_looser_one_changes_nothing():
    """Every quota is enforced: another quota can only tighten, so the tightest cap is judged."""
    tighter = adding(lambda: second_quota())(f.shared_stack())
    assert _messages(tighter, "ISO-NS-03") == []
    looser = adding(lambda: f.changed(second_quota(), (*HARD, "requests.cpu"), "64"))(f.shared_stack())
    assert _messages(looser, "ISO-NS-03") == []


def test_a_scoped_extra_quota_is_flagged_even_next_to_a_good_one():
    stack = adding(lambda: second_quota(scopes=["BestEffort"], hard=STANDARD.quota.hard()))(f.shared_stack())
    assert _messages(stack, "ISO-NS-04") == [iso_ns_04.MSG_SCOPED]
    assert _messages(stack, "ISO-NS-03") == []  # the unscoped quota still caps everything


def test_scoped_quota_does_not_count_as_the_cap():
    """The only quota capping limits.memory is scoped: the namespace's memory limits are uncapped."""
    stack = changing(QUOTA, "acme-quota", (*HARD, "limits.memory"), f.DELETE)(f.shared_stack())
    stack = adding(lambda: second_quota(scopes=["NotBestEffort"], hard={"limits.memory": "1Gi"}))(stack)
    assert iso_ns_03.MSG_MEMORY in _messages(stack, "ISO-NS-03")


def test_quota_within_a_bigger_plan_is_judged_by_the_namespaces_label():
    """The same enterprise-sized quota passes for an enterprise tenant and fails for standard."""
    big = changing(QUOTA, "acme-quota", HARD, ENTERPRISE.quota.hard())(f.shared_stack())
    assert len(_messages(big, "ISO-NS-03")) > 0
    relabelled = changing(NS, "acme-namespace", ("metadata", "labels", "plan"), "enterprise")(big)
    assert _messages(relabelled, "ISO-NS-03") == []
