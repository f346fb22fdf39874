"""Per-tenant monitoring: one template, every query and scrape bound to the tenant's namespace."""

from __future__ import annotations

import json
import re

import pytest

from components import monitoring as mon
from components.monitoring import TenantMonitoring, TenantMonitoringArgs
from tenantctl.mock_engine import run_program
from tenants.plans import load_plans
from tests.components import manifest_checks
from tests.components.stack_checks import obj
from tests.factories import make_cluster_ref, make_context

PLANS = load_plans()
NS = "tenant-acme"
BOTH = ["fileserver", "chatbot"]
#: A metric selector in PromQL: name{matchers}.
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


def template(workloads=BOTH, plan="standard"):
    ctx = make_context("acme", "namespace", plan)
    return mon.monitoring_manifests(NS, "acme", PLANS[plan], workloads, ctx.labels)


def selectors(expr: str) -> list[tuple[str, str]]:
    return SELECTOR.findall(expr)


#: Labels that carry the namespace of the series: the object's, or Istio's destination.
NAMESPACE_LABELS = ("namespace", "destination_workload_namespace")
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"([^"]*)"\s*')


def scoped(expr: str, namespace: str = NS) -> bool:
    """Every selector of an expression matches the namespace exactly (and there is one)."""
    found = selectors(expr)
    if not found:
        return False
    for _name, matchers in found:
        pairs = [MATCHER.fullmatch(m) for m in matchers.split(",")]
        assert all(pairs), matchers
        if not any(p[1] in NAMESPACE_LABELS and p[2] == "=" and p[3] == namespace for p in pairs if p):
            return False
    return True


def all_exprs(manifests) -> list[str]:
    _pod, rule, board = manifests
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    (dashboard_json,) = board["data"].values()
    exprs += [t["expr"] for p in json.loads(dashboard_json)["panels"] for t in p["targets"]]
    return exprs


@pytest.mark.parametrize("workloads", [BOTH, ["fileserver"]], ids=["both", "fileserver-only"])
def test_template_validates(workloads):
    for manifest in template(workloads):
        manifest_checks.validate(manifest)


def test_pod_monitor_scrapes_only_the_tenants_pods_through_the_mesh_agent():
    pod_monitor = template()[0]
    assert pod_monitor["metadata"]["namespace"] == NS
    spec = pod_monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [NS]}
    assert spec["selector"] == {"matchLabels": {"tenant": "acme"}}
    (endpoint,) = spec["podMetricsEndpoints"]
    assert endpoint["path"] == "/stats/prometheus"
    keep = [r for r in endpoint["relabelings"] if r["action"] == "keep"]
    assert keep[0] == {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_container_name"],
                       "regex": "istio-proxy"}
    assert {"action": "replace", "replacement": "acme", "targetLabel": "tenant"} in endpoint["relabelings"]


@pytest.mark.parametrize(("address", "port", "target"), [
    ("10.0.3.7", "15020", "10.0.3.7:15020"),
    ("fd00:1::7", "15020", "[fd00:1::7]:15020"),
], ids=["ipv4", "ipv6"])
def test_relabelling_points_prometheus_at_the_merged_metrics_port(address, port, target):
    """Apply the address rewrites as Prometheus would (RE2 anchored, ``$n`` expansion)."""
    (endpoint,) = template()[0]["spec"]["podMetricsEndpoints"]
    result = f"{address}:15090"
    for rule in endpoint["relabelings"]:
        if rule.get("targetLabel") != "__address__":
            continue
        match = re.fullmatch(rule["regex"], f"{port};{address}")
        if match:
            result = re.sub(r"\$(\d+)", lambda m, g=match: g.group(int(m.group(1))), rule["replacement"])
    assert result == target


@pytest.mark.parametrize("workloads", [BOTH, ["fileserver"]], ids=["both", "fileserver-only"])
def test_every_alert_and_panel_query_is_bound_to_the_tenant_namespace(workloads):
    assert [e for e in all_exprs(template(workloads)) if not scoped(e)] == []


@pytest.mark.parametrize("expr", [
    "up", 'rate(istio_requests_total{reporter="destination"}[5m])', 'x{namespace="tenant-other"}',
    'x{pod_namespace="tenant-acme"}', 'x{namespace=~"tenant-acme|tenant-b"}',
    'a{namespace="tenant-acme"} / b{job="x"}',
], ids=["no-selector", "no-namespace", "other-namespace", "other-label", "regex", "one-of-two"])
def test_scope_check_catches_unscoped_queries(expr):
    assert not scoped(expr)


def test_alerts_cover_availability_errors_latency_quota_and_the_chatbot_budget():
    rule = template()[1]
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"TenantWorkloadUnavailable", "TenantPodCrashLooping", "TenantHighErrorRate",
                           "TenantHighLatency", "TenantQuotaNearlyExhausted", "TenantAutoscalerAtMaximum",
                           "TenantChatbotTokenBudgetNearlyExhausted",
                           "TenantChatbotRequestBudgetNearlyExhausted"}
    assert all(r["labels"]["tenant"] == "acme" for r in alerts.values())
    budget = PLANS["standard"].chatbot_budget
    assert alerts["TenantChatbotTokenBudgetNearlyExhausted"]["expr"].endswith(
        f"> {int(0.9 * budget.tokens_per_day)}")
    assert alerts["TenantChatbotRequestBudgetNearlyExhausted"]["expr"].endswith(
        f"> {int(0.9 * budget.requests_per_day)}")
    assert 'deployment=~"fileserver|chatbot"' in alerts["TenantWorkloadUnavailable"]["expr"]


def test_without_a_chatbot_there_is_no_chatbot_alert_or_panel():
    manifests = template(["fileserver"])
    assert "chatbot" not in json.dumps(manifests[1])
    assert "chatbot" not in manifests[2]["data"]["tenant-acme.json"]


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_budget_thresholds_follow_the_plan(plan):
    rule = template(plan=plan)[1]
    exprs = " ".join(r["expr"] for r in rule["spec"]["groups"][0]["rules"])
    assert f"> {int(0.9 * PLANS[plan].chatbot_budget.tokens_per_day)}" in exprs


def test_dashboard_is_a_grafana_config_map_in_the_tenants_folder():
    board = template()[2]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert board["metadata"]["labels"]["tenant"] == "acme"
    assert board["metadata"]["annotations"] == {"grafana_folder": "tenant-acme"}
    dashboard = json.loads(board["data"]["tenant-acme.json"])
    assert dashboard["uid"] == "tenant-acme"
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"]) == 8


def test_brackets_balance_in_every_query():
    for expr in all_exprs(template()):
        for opening, closing in ("()", "{}", "[]"):
            assert expr.count(opening) == expr.count(closing), expr


@pytest.mark.parametrize(("workloads", "message"), [([], "no workload"), (["db"], "unknown workloads")],
                         ids=["none", "unknown"])
def test_template_rejects_bad_workload_lists(workloads, message):
    with pytest.raises(ValueError, match=message):
        template(workloads)


def test_component_declares_the_template_in_the_tenant_namespace():
    def program():
        ctx = make_context("acme", "node", "enterprise")
        TenantMonitoring("acme-monitoring", TenantMonitoringArgs(ctx=ctx, cluster=make_cluster_ref(),
                                                                 workloads=BOTH))

    run = run_program(program)
    provider = run.of_type("pulumi:providers:kubernetes")[0].urn
    children = run.children_of(run.named("acme-monitoring").urn)
    assert sorted((r.type, r.name) for r in children) == [
        ("kubernetes:core/v1:ConfigMap", "acme-monitoring-dashboard"),
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "acme-monitoring-pod-monitor"),
        ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "acme-monitoring-alerts"),
    ]
    for child in children:
        assert child.options["provider"] == provider
        manifest = obj(child)
        manifest_checks.validate(manifest)
        assert manifest["metadata"]["namespace"] == NS
        assert manifest["metadata"]["labels"]["tier"] == "node"
