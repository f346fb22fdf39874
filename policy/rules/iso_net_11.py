"""ISO-NET-11: tenant scrape monitors cannot pass off metrics as another tenant's.

Prometheus attributes a series to a tenant by its ``namespace`` and ``tenant`` labels;
alerts, dashboards and usage metering read them. A monitor in a tenant namespace that
honours the target's own labels (``honorLabels: true``), maps pod labels onto target
labels (``labelmap``, ``podTargetLabels``, ``targetLabels``) or relabels
``namespace``/``tenant`` to anything but its own value lets a tenant's pods speak as
another tenant, and one that selects pods of other
namespaces scrapes another tenant's workloads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import kube, tenancy
from policy.props import as_list, as_map, is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_HONOR_LABELS = "Set honorLabels: false (the default) on every endpoint of the tenant's monitor."
MSG_RELABEL_TENANCY = ("Relabel 'namespace' and 'tenant' only to the monitor's own namespace and "
                       "tenant (a fixed replacement), use no labelmap in relabelings and "
                       "metricRelabelings, and copy neither from pod or service labels "
                       "(podTargetLabels, targetLabels).")
MSG_FOREIGN_NAMESPACES = ("Scrape only the monitor's own namespace: namespaceSelector unset or "
                          "matchNames [its namespace], never any: true.")

IS_MONITOR = kube.matcher("monitoring.coreos.com/PodMonitor", "monitoring.coreos.com/ServiceMonitor")
TENANCY_LABELS = ("namespace", tenancy.LABEL_TENANT)


def _endpoints(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [as_map(e) for key in ("podMetricsEndpoints", "endpoints") for e in as_list(spec.get(key))]


def _relabel_ok(step: Mapping[str, Any], own: dict[str, str]) -> bool:
    action = str(step.get("action") or "replace").lower()
    if action == "labelmap":
        return False
    target = text(step.get("targetLabel"))
    if target not in TENANCY_LABELS:
        return True
    return (action == "replace" and not as_list(step.get("sourceLabels"))
            and step.get("replacement") == own[target])


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    namespace = kube.namespace(res.props) or ""
    tenant = tenancy.tenant_of_namespace(namespace)
    if tenant is None:
        return
    spec = kube.spec(res.props)
    own = {"namespace": namespace, tenancy.LABEL_TENANT: tenant}
    for endpoint in _endpoints(spec):
        if is_true(endpoint.get("honorLabels")):
            yield MSG_HONOR_LABELS
        steps = [as_map(s) for key in ("relabelings", "metricRelabelings")
                 for s in as_list(endpoint.get(key))]
        if not all(_relabel_ok(step, own) for step in steps):
            yield MSG_RELABEL_TENANCY
    copied = [str(x) for key in ("podTargetLabels", "targetLabels") for x in as_list(spec.get(key))]
    if any(label in TENANCY_LABELS for label in copied):
        yield MSG_RELABEL_TENANCY
    selector = spec.get("namespaceSelector")
    if selector is not None:
        selector = as_map(selector)
        if is_true(selector.get("any")) or any(n != namespace for n in as_list(selector.get("matchNames"))):
            yield MSG_FOREIGN_NAMESPACES


RULE = ResourceRule(
    id="ISO-NET-11",
    description=(
        "PodMonitors and ServiceMonitors in tenant namespaces keep honorLabels false, never "
        "relabel namespace or tenant to another value, and scrape only their own namespace."
    ),
    severity="high", tiers="NPV", scope="tenant",
    applies_to=IS_MONITOR, check=check)
