"""Seeded violations of the fair-share rules: ISO-NS-03 (quota coverage and plan), ISO-NS-04
(unscoped, counts, no NodePort/LoadBalancer) and ISO-NS-05 (LimitRange defaults and plan maxima).

The baseline quota and LimitRange are the fixture tenants' plan (``standard``) as the
platform renders them; every case changes one thing the way a careless edit would.
"""

from __future__ import annotations

from typing import Any

from policy.rules import iso_ns_03, iso_ns_04, iso_ns_05
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
MISSING = iso_ns_03.MSG_MISSING
ABOVE = iso_ns_03.MSG_ABOVE_PLAN
LR_MISSING = iso_ns_05.MSG_MISSING
LR_ABOVE = iso_ns_05.MSG_ABOVE_PLAN


def above(key: str, allowed: str) -> str:
    return ABOVE.format(key=key, allowed=allowed, plan="standard")


def second_quota(**spec: Any) -> dict[str, Any]:
    """Another quota in acme's namespace (a tenant-facing quota a careless change adds)."""
    return f.resource(QUOTA, "acme-extra-quota", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": f.meta("extra", "acme"),
        "spec": {"hard": {"requests.cpu": "1"}, **spec}})


CASES: list[Case] = [
    # ISO-NS-03: coverage, one case per resource name the quota must cap
    *[stack_edit(f"ns03-no-{key}", "ISO-NS-03", changing(QUOTA, "acme-quota", (*HARD, key), f.DELETE),
                 MISSING.format(key=key), about="acme-quota") for key in QUOTA_COMPUTE_KEYS],
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
               *[MISSING.format(key=key) for key in QUOTA_COMPUTE_KEYS], about="acme-quota"),
    # ISO-NS-03: values within the plan
    stack_edit("ns03-cpu-above-plan", "ISO-NS-03", changing(QUOTA, "acme-quota", (*HARD, "requests.cpu"), "5"),
               above("requests.cpu", STANDARD.quota.cpu), about="acme-quota"),
    stack_edit("ns03-limits-memory-above-plan", "ISO-NS-03",
               changing(QUOTA, "acme-quota", (*HARD, "limits.memory"), ENTERPRISE.quota.limits_memory),
               above("limits.memory", STANDARD.quota.limits_memory), about="acme-quota"),
    stack_edit("ns03-ephemeral-above-plan-other-unit", "ISO-NS-03",
               changing(QUOTA, "acme-quota", (*HARD, "limits.ephemeral-storage"), "21475M"),
               above("limits.ephemeral-storage", STANDARD.quota.limits_ephemeral_storage), about="acme-quota"),
    stack_edit("ns03-pods-above-plan", "ISO-NS-03", changing(QUOTA, "acme-quota", (*HARD, "pods"), "26"),
               above("pods", str(STANDARD.quota.pods)), about="acme-quota"),
    stack_edit("ns03-not-a-quantity", "ISO-NS-03",
               changing(QUOTA, "acme-quota", (*HARD, "limits.cpu"), "lots"),
               MISSING.format(key="limits.cpu"), about="acme-quota"),
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
    *[one(f"ns04-no-{key}", "ISO-NS-04", f.resource_quota, (*HARD, key), f.DELETE,
          iso_ns_04.MSG_COUNT.format(key=key))
      for key in ("pods", "persistentvolumeclaims", "services", "secrets", "configmaps")],
    one("ns04-no-hard", "ISO-NS-04", f.resource_quota, ("spec",), f.DELETE,
        iso_ns_04.MSG_NODEPORTS, iso_ns_04.MSG_LOADBALANCERS,
        *[iso_ns_04.MSG_COUNT.format(key=k)
          for k in ("pods", "persistentvolumeclaims", "services", "secrets", "configmaps")]),
    # ISO-NS-05
    stack_edit("ns05-no-limitrange", "ISO-NS-05", without(LIMITS, "bolt-limits"),
               iso_ns_05.MSG_NO_LIMITRANGE, about="bolt-namespace"),
    stack_edit("ns05-container-max-above-plan", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "max", "memory"), "64Gi"),
               LR_ABOVE.format(kind="Container", resource="memory", allowed=STANDARD.limit_range.max.memory,
                               plan="standard"), about="acme-limits"),
    stack_edit("ns05-pod-max-above-plan", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*POD, "max", "cpu"), "64"),
               LR_ABOVE.format(kind="Pod", resource="cpu", allowed=STANDARD.limit_range.pod_max.cpu,
                               plan="standard"), about="acme-limits"),
    stack_edit("ns05-pvc-max-above-plan", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*PVC, "max", "storage"), "1Ti"),
               LR_ABOVE.format(kind="PersistentVolumeClaim", resource="storage",
                               allowed=STANDARD.limit_range.pvc.max, plan="standard"), about="acme-limits"),
    stack_edit("ns05-no-container-max", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "max"), f.DELETE),
               *[LR_MISSING.format(kind="Container", field="max", resource=r)
                 for r in ("cpu", "memory", "ephemeral-storage")], about="acme-limits"),
    stack_edit("ns05-no-ephemeral-default", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "default", "ephemeral-storage"), f.DELETE),
               LR_MISSING.format(kind="Container", field="default", resource="ephemeral-storage"),
               about="acme-limits"),
    stack_edit("ns05-default-above-max", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "default", "cpu"), "3"),
               iso_ns_05.MSG_DEFAULT_ABOVE_MAX.format(field="default", resource="cpu"), about="acme-limits"),
    stack_edit("ns05-only-pod-limits", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*CONTAINER, "type"), "Pod"),
               *[LR_MISSING.format(kind="Container", field=field, resource=r)
                 for field in ("max", "default", "defaultRequest", "min")
                 for r in ("cpu", "memory", "ephemeral-storage")], about="acme-limits"),
    stack_edit("ns05-no-pvc-entry", "ISO-NS-05",
               changing(LIMITS, "acme-limits", (*PVC, "type"), "Other"),
               LR_MISSING.format(kind="PersistentVolumeClaim", field="max", resource="storage"),
               about="acme-limits"),
    stack_edit("ns05-plan-label-unknown", "ISO-NS-05",
               changing(NS, "acme-namespace", ("metadata", "labels", "plan"), "platinum"),
               iso_ns_05.MSG_UNKNOWN_PLAN, about="acme-namespace"),
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
    assert MISSING.format(key="limits.memory") in _messages(stack, "ISO-NS-03")


def test_quota_within_a_bigger_plan_is_judged_by_the_namespaces_label():
    """The same enterprise-sized quota passes for an enterprise tenant and fails for standard."""
    big = changing(QUOTA, "acme-quota", HARD, ENTERPRISE.quota.hard())(f.shared_stack())
    assert len(_messages(big, "ISO-NS-03")) > 0
    relabelled = changing(NS, "acme-namespace", ("metadata", "labels", "plan"), "enterprise")(big)
    assert _messages(relabelled, "ISO-NS-03") == []
