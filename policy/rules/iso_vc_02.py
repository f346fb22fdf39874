"""ISO-VC-02: a vCluster cannot change host nodes or read other tenants' host objects."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy import helm, tenancy
from policy.props import as_list, as_map, get, is_true, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_SYNC_BACK = "Set sync.fromHost.nodes.syncBackChanges: false in the vCluster values."
MSG_HOST_SECRETS_MAPPING = ("Map host secrets and config maps only from the vCluster's own host "
                            "namespace (sync.fromHost.*.mappings.byName).")
MSG_FOREIGN_POOL = ("Enforce only the tenant's own pool in sync.toHost.pods.enforceTolerations "
                    "and sync.fromHost.nodes.selector.labels; no key-less tolerations.")
MSG_FROM_HOST = ("Sync no host objects into the vCluster beyond nodes: sync.fromHost.secrets, "
                 "configMaps and customResources off, networking.replicateServices.fromHost "
                 "empty (they read the host namespace's or other namespaces' objects).")
MSG_TO_HOST_NAMESPACES = ("Keep the vCluster in its one host namespace: sync.toHost.namespaces "
                          "and experimental.multiNamespaceMode off.")
MSG_INTEGRATION = ("Turn off vCluster integrations that reach host resources (integrations."
                   "externalSecrets, certManager, istio, kubeVirt, metricsServer...) unless the "
                   "platform allows them (option allowedIntegrations).")
MSG_TARGET_NAMESPACE = "Leave experimental.syncSettings.targetNamespace unset or equal to the host namespace."

TOLERATION = re.compile(r"^(?P<key>[^=:]*)(?:=(?P<value>[^:]*))?(?::(?P<effect>.*))?$")


def _toleration(entry: Any) -> tuple[str, str | None, str | None]:
    """(key, value, operator) of an enforced toleration given as a string or an object."""
    if isinstance(entry, Mapping):
        return (text(entry.get("key")) or "", text(entry.get("value")), text(entry.get("operator")))
    match = TOLERATION.match(str(entry))
    key = match.group("key") if match else ""
    value = match.group("value") if match else None
    return key, value, "Equal" if value is not None else "Exists"


def _pool_ok(values: Mapping[str, Any], tenant: str | None) -> bool:
    for entry in as_list(get(values, "sync", "toHost", "pods", "enforceTolerations")):
        key, value, operator = _toleration(entry)
        if key in ("", "*") or (key == tenancy.LABEL_TENANT and (operator == "Exists" or value != tenant)):
            return False
    labels = as_map(get(values, "sync", "fromHost", "nodes", "selector", "labels"))
    return tenancy.LABEL_TENANT not in labels or labels[tenancy.LABEL_TENANT] == tenant


def _enabled(value: Any) -> bool:
    return is_true(as_map(value).get("enabled"))


def _host_reach(values: Mapping[str, Any], allowed: list[str]) -> Iterator[str]:
    """Syncing host objects in, spreading to other host namespaces, host integrations."""
    from_host = as_map(get(values, "sync", "fromHost"))
    custom = as_map(from_host.get("customResources"))
    if (_enabled(from_host.get("secrets")) or _enabled(from_host.get("configMaps"))
            or any(_enabled(v) for v in custom.values())
            or as_list(get(values, "networking", "replicateServices", "fromHost"))):
        yield MSG_FROM_HOST
    if _enabled(get(values, "sync", "toHost", "namespaces")) \
            or _enabled(get(values, "experimental", "multiNamespaceMode")):
        yield MSG_TO_HOST_NAMESPACES
    for name, integration in as_map(values.get("integrations")).items():
        if _enabled(integration) and name not in allowed:
            yield MSG_INTEGRATION


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if not helm.is_vcluster(res.type, res.props):
        return
    values = helm.values(res.props)
    host = tenancy.namespace_of(res.type, res.props) or ""
    if is_true(get(values, "sync", "fromHost", "nodes", "syncBackChanges")):
        yield MSG_SYNC_BACK
    for kind in ("secrets", "configMaps"):
        for source in as_map(get(values, "sync", "fromHost", kind, "mappings", "byName")):
            namespace = str(source).split("/", 1)[0] if "/" in str(source) else ""
            if namespace not in ("", host):
                yield MSG_HOST_SECRETS_MAPPING
    if not _pool_ok(values, tenancy.tenant_of_namespace(host)):
        yield MSG_FOREIGN_POOL
    yield from _host_reach(values, [str(i) for i in cfg.option("allowedIntegrations")])
    target = text(get(values, "experimental", "syncSettings", "targetNamespace"))
    if target is not None and target != host:
        yield MSG_TARGET_NAMESPACE


RULE = ResourceRule(
    id="ISO-VC-02",
    description=(
        "vCluster values keep node sync one-way (syncBackChanges false), sync no host secrets, "
        "config maps, custom resources or services in, stay in one host namespace, enable no "
        "host integrations, and enforce only the tenant's own pool."
    ),
    severity="high", tiers="V", scope="tenant",
    options={"allowedIntegrations": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "vCluster integrations (keys of integrations) the platform allows."}},
    applies_to=helm.is_chart_type, check=check)
