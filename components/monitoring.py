"""TenantMonitoring: per-tenant scraping, alert rules and dashboard, from one template.

Everything is scoped to the tenant's namespace and built by pure functions from the
namespace, the tenant id, its plan and its enabled workloads, so every tenant gets the
same monitoring and a new alert reaches the whole fleet in one change:

- a ``PodMonitor`` (the "ServiceMonitor or equivalent"): under Istio STRICT mTLS a
  Prometheus outside the mesh cannot scrape an application port (the sidecar demands
  mTLS), so the tenant's pods are scraped at the sidecar agent's port 15020, which is
  outside traffic capture and serves the application's metrics merged with the proxy's
  (Istio's "metrics merging"; the workloads carry the ``prometheus.io/*`` annotations
  it reads). The relabelling is Istio's documented one for the Prometheus Operator,
  limited to this namespace and this tenant's pods, and stamps every series with
  ``tenant``;
- a ``PrometheusRule`` whose every selector names the namespace (workload down, crash
  loops, 5xx ratio, latency, quota nearly used up, autoscaler pinned at its maximum,
  chatbot token budget nearly spent: a warning only, the budget itself is enforced by
  :mod:`components.token_budget`). If the cluster's Prometheus enforces a namespace
  label on tenant rules, it adds exactly the selector these rules already carry;
- a Grafana dashboard as a ConfigMap labelled for Grafana's dashboard sidecar, filed in
  a folder per tenant, every query bound to the namespace.

The cluster's monitoring add-on must select PodMonitors and PrometheusRules in tenant
namespaces and run Grafana's sidecar across namespaces; TenantNamespace's network and
mesh policies already admit the monitoring namespace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.context import ClusterRef, TenantContext
from tenants import naming
from tenants.plans import PlanSpec

Manifest = dict[str, Any]

MONITORING_API = "monitoring.coreos.com/v1"
#: The sidecar agent's port serving merged application and proxy metrics.
MERGED_METRICS_PORT = 15020
MERGED_METRICS_PATH = "/stats/prometheus"
SCRAPE_INTERVAL = "30s"
#: Label and annotation Grafana's dashboard sidecar (kube-prometheus-stack) looks for.
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"
#: What the sidecar reads dashboards from: ConfigMaps only. Tenants may write Secrets
#: (write-only), so a sidecar that also watched Secrets would read what a tenant plants; the
#: admission policy ``tenant-dashboards`` refuses the label and folder annotation from
#: anyone but the platform on both kinds (components/admission.py).
DASHBOARD_SIDECAR_RESOURCE = "configmap"
#: Share of a limit (quota, chatbot budget) at which an alert warns.
NEARLY_EXHAUSTED = 0.9
#: Metric the chatbot exports for tokens spent on model calls (a counter).
CHATBOT_TOKENS_METRIC = "chatbot_llm_tokens_total"
CHATBOT_REQUESTS_METRIC = "chatbot_requests_total"


def _meta(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(labels)}


def pod_monitor(namespace: str, tenant_id: str, labels: dict[str, str]) -> Manifest:
    """Scrape the tenant's pods at the mesh agent's merged-metrics port."""
    address_from = ["__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"]
    return {
        "apiVersion": MONITORING_API, "kind": "PodMonitor",
        "metadata": _meta("tenant-workloads", namespace, labels),
        "spec": {
            "selector": {"matchLabels": {naming.LABEL_TENANT: tenant_id}},
            "namespaceSelector": {"matchNames": [namespace]},
            "jobLabel": "app.kubernetes.io/name",
            "podMetricsEndpoints": [{
                "path": MERGED_METRICS_PATH,
                "interval": SCRAPE_INTERVAL,
                "relabelings": [
                    {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_container_name"],
                     "regex": "istio-proxy"},
                    {"action": "keep",
                     "sourceLabels": ["__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape"],
                     "regex": "true"},
                    {"action": "replace", "sourceLabels": address_from,
                     "regex": r"(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})",
                     "replacement": "[$2]:$1", "targetLabel": "__address__"},
                    {"action": "replace", "sourceLabels": address_from,
                     "regex": r"(\d+);((([0-9]+?)(\.|$)){4})",
                     "replacement": "$2:$1", "targetLabel": "__address__"},
                    {"action": "replace", "targetLabel": "workload",
                     "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]},
                    {"action": "replace", "replacement": tenant_id, "targetLabel": naming.LABEL_TENANT},
                ],
            }],
        },
    }


def _alert(name: str, expr: str, *, for_: str, severity: str, tenant_id: str,
           summary: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": for_,
            "labels": {"severity": severity, naming.LABEL_TENANT: tenant_id},
            "annotations": {"summary": summary}}


def alert_rules(namespace: str, tenant_id: str, plan: PlanSpec,
                workloads: Sequence[str]) -> list[dict[str, Any]]:
    """The tenant's alerts; every selector carries ``namespace="<tenant namespace>"``."""
    ns = f'namespace="{namespace}"'
    dest = f'destination_workload_namespace="{namespace}",reporter="destination"'
    failed = f'{dest},response_code=~"5.."'
    deployments = "|".join(workloads)
    rules = [
        _alert("TenantWorkloadUnavailable",
               f'kube_deployment_status_replicas_available{{{ns},deployment=~"{deployments}"}} < 1',
               for_="5m", severity="critical", tenant_id=tenant_id,
               summary="{{ $labels.deployment }} of tenant " + tenant_id + " has no available replica"),
        _alert("TenantPodCrashLooping",
               f"increase(kube_pod_container_status_restarts_total{{{ns}}}[15m]) > 3",
               for_="5m", severity="warning", tenant_id=tenant_id,
               summary="{{ $labels.pod }} of tenant " + tenant_id + " restarts repeatedly"),
        _alert("TenantHighErrorRate",
               f"sum by (destination_workload) (rate(istio_requests_total{{{failed}}}[5m]))"
               f" / sum by (destination_workload) (rate(istio_requests_total{{{dest}}}[5m])) > 0.05",
               for_="10m", severity="warning", tenant_id=tenant_id,
               summary="more than 5% of requests to {{ $labels.destination_workload }} of tenant "
                       + tenant_id + " fail"),
        _alert("TenantHighLatency",
               "histogram_quantile(0.95, sum by (destination_workload, le) "
               f"(rate(istio_request_duration_milliseconds_bucket{{{dest}}}[5m]))) > 2000",
               for_="15m", severity="warning", tenant_id=tenant_id,
               summary="p95 latency of {{ $labels.destination_workload }} of tenant " + tenant_id
                       + " is above 2s"),
        _alert("TenantQuotaNearlyExhausted",
               f'kube_resourcequota{{{ns},type="used"}} / ignoring(type) '
               f'kube_resourcequota{{{ns},type="hard"}} > {NEARLY_EXHAUSTED}',
               for_="15m", severity="warning", tenant_id=tenant_id,
               summary="tenant " + tenant_id + " uses over 90% of its {{ $labels.resource }} quota"),
        _alert("TenantAutoscalerAtMaximum",
               f"kube_horizontalpodautoscaler_status_current_replicas{{{ns}}} >= "
               f"kube_horizontalpodautoscaler_spec_max_replicas{{{ns}}}",
               for_="30m", severity="info", tenant_id=tenant_id,
               summary="{{ $labels.horizontalpodautoscaler }} of tenant " + tenant_id
                       + " runs at its plan's maximum replicas"),
    ]
    if "chatbot" in workloads:
        budget = plan.chatbot_budget
        rules += [
            _alert("TenantChatbotTokenBudgetNearlyExhausted",
                   f"sum(increase({CHATBOT_TOKENS_METRIC}{{{ns}}}[1d])) > "
                   f"{NEARLY_EXHAUSTED * budget.tokens_per_day:.0f}",
                   for_="5m", severity="warning", tenant_id=tenant_id,
                   summary="tenant " + tenant_id + f" spent over 90% of its {budget.tokens_per_day} "
                           "daily chatbot tokens; at 100% its budget guard denies the chatbot "
                           "Bedrock until midnight UTC (components/token_budget.py)"),
            _alert("TenantChatbotRequestBudgetNearlyExhausted",
                   f"sum(increase({CHATBOT_REQUESTS_METRIC}{{{ns}}}[1d])) > "
                   f"{NEARLY_EXHAUSTED * budget.requests_per_day:.0f}",
                   for_="5m", severity="warning", tenant_id=tenant_id,
                   summary="tenant " + tenant_id + f" used over 90% of its {budget.requests_per_day} "
                           "daily chatbot requests"),
        ]
    return rules


def prometheus_rule(namespace: str, tenant_id: str, plan: PlanSpec, workloads: Sequence[str],
                    labels: dict[str, str]) -> Manifest:
    """The tenant's alert rules as one PrometheusRule in its namespace."""
    return {"apiVersion": MONITORING_API, "kind": "PrometheusRule",
            "metadata": _meta("tenant-alerts", namespace, labels),
            "spec": {"groups": [{"name": f"tenant-{tenant_id}", "interval": "1m",
                                 "rules": alert_rules(namespace, tenant_id, plan, workloads)}]}}


def _panel(panel_id: int, title: str, expr: str, unit: str, x: int, y: int) -> dict[str, Any]:
    return {"id": panel_id, "type": "timeseries", "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": "{{workload}}{{destination_workload}}"}]}


def dashboard(namespace: str, tenant_id: str, workloads: Sequence[str]) -> dict[str, Any]:
    """The tenant's Grafana dashboard (JSON model); every query names the namespace."""
    ns = f'namespace="{namespace}"'
    dest = f'destination_workload_namespace="{namespace}",reporter="destination"'
    failed = f'{dest},response_code=~"5.."'
    pods = f'{ns},container=~"{"|".join(workloads)}"'
    queries = [
        ("Requests per second", f"sum by (destination_workload) (rate(istio_requests_total{{{dest}}}[5m]))",
         "reqps"),
        ("5xx ratio", f"sum by (destination_workload) (rate(istio_requests_total{{{failed}}}[5m]))"
                      f" / sum by (destination_workload) (rate(istio_requests_total{{{dest}}}[5m]))",
         "percentunit"),
        ("p95 latency", "histogram_quantile(0.95, sum by (destination_workload, le) "
                        f"(rate(istio_request_duration_milliseconds_bucket{{{dest}}}[5m])))", "ms"),
        ("CPU (cores)", f"sum by (container) (rate(container_cpu_usage_seconds_total{{{pods}}}[5m]))",
         "short"),
        ("Memory (working set)", f"sum by (container) (container_memory_working_set_bytes{{{pods}}})",
         "bytes"),
        ("Replicas", f"kube_horizontalpodautoscaler_status_current_replicas{{{ns}}}", "short"),
        ("Quota used", f'kube_resourcequota{{{ns},type="used"}} / ignoring(type) '
                       f'kube_resourcequota{{{ns},type="hard"}}', "percentunit"),
    ]
    if "chatbot" in workloads:
        queries.append(("Chatbot tokens per hour", f"sum(increase({CHATBOT_TOKENS_METRIC}{{{ns}}}[1h]))",
                        "short"))
    panels = [_panel(i + 1, title, expr, unit, x=12 * (i % 2), y=8 * (i // 2))
              for i, (title, expr, unit) in enumerate(queries)]
    return {
        "uid": f"tenant-{tenant_id}",
        "title": f"Tenant {tenant_id}",
        "tags": ["tenant-platform", f"tenant:{tenant_id}"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": panels,
    }


def dashboard_config_map(namespace: str, tenant_id: str, workloads: Sequence[str],
                         labels: dict[str, str]) -> Manifest:
    """The dashboard as a ConfigMap picked up by Grafana's sidecar into the tenant's folder."""
    meta = _meta("tenant-dashboard", namespace, {**labels, **DASHBOARD_LABEL})
    meta["annotations"] = {DASHBOARD_FOLDER_ANNOTATION: f"tenant-{tenant_id}"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {f"tenant-{tenant_id}.json": json.dumps(dashboard(namespace, tenant_id, workloads),
                                                            sort_keys=True)}}


def monitoring_manifests(namespace: str, tenant_id: str, plan: PlanSpec, workloads: Sequence[str],
                         labels: dict[str, str]) -> list[Manifest]:
    """The whole template: pod monitor, alert rules, dashboard."""
    if not workloads:
        raise ValueError(f"tenant {tenant_id!r} has no workload to monitor")
    unknown = set(workloads) - set(naming.WORKLOADS)
    if unknown:
        raise ValueError(f"unknown workloads {sorted(unknown)}; known: {naming.WORKLOADS}")
    return [pod_monitor(namespace, tenant_id, labels),
            prometheus_rule(namespace, tenant_id, plan, workloads, labels),
            dashboard_config_map(namespace, tenant_id, workloads, labels)]


@dataclass(frozen=True, kw_only=True)
class TenantMonitoringArgs:
    """Inputs of :class:`TenantMonitoring`: the tenant and its enabled workloads.

    ``namespace`` is a plain string (the tenant's namespace name): rule expressions and
    the dashboard embed it. ``depends_on`` should hold the Namespace (or the component
    that creates it) so that these objects are created inside an existing namespace.
    """

    ctx: TenantContext
    cluster: ClusterRef
    workloads: Sequence[str]
    depends_on: Sequence[pulumi.Resource] = ()


class TenantMonitoring(pulumi.ComponentResource):
    """The tenant's PodMonitor, PrometheusRule and dashboard."""

    dashboard_uid: pulumi.Output[str]

    def __init__(self, name: str, args: TenantMonitoringArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-platform:index:TenantMonitoring", name, None, opts)
        ctx, cluster = args.ctx, args.cluster
        namespace = ctx.names.namespace
        pod_mon, rule, board = monitoring_manifests(namespace, ctx.id, ctx.tenant.plan,
                                                    list(args.workloads), ctx.labels)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=cluster.provider,
                                          depends_on=list(args.depends_on))
        for role, manifest in (("pod-monitor", pod_mon), ("alerts", rule)):
            k8s.apiextensions.CustomResource(
                f"{name}-{role}", api_version=manifest["apiVersion"], kind=manifest["kind"],
                metadata=manifest["metadata"], spec=manifest["spec"], opts=k8s_opts)
        k8s.core.v1.ConfigMap(f"{name}-dashboard", metadata=board["metadata"], data=board["data"],
                              opts=k8s_opts)
        self.dashboard_uid = pulumi.Output.from_input(f"tenant-{ctx.id}")
        self.register_outputs({"dashboard_uid": self.dashboard_uid})
