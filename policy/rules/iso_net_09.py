"""ISO-NET-09: ingress hosts stay within the tenant's domains; no NGINX snippets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy import kube, tenancy
from policy.props import as_list, as_map, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_FOREIGN_HOST = ("Limit hosts to the tenant's own domains: names containing its id as a "
                    "label, or its entries in option tenantHosts.")
MSG_MISSING_HOST = ("Set a host on every Ingress rule, Gateway server and listener; an empty "
                    "host matches every domain.")
MSG_SNIPPET = "Remove NGINX snippet annotations (nginx.ingress.kubernetes.io/*-snippet)."

IS_INGRESS = kube.matcher("networking.k8s.io/Ingress")
IS_ISTIO_GATEWAY = kube.matcher("networking.istio.io/Gateway")
IS_K8S_GATEWAY = kube.matcher("gateway.networking.k8s.io/Gateway")
IS_ROUTE = kube.matcher("gateway.networking.k8s.io/HTTPRoute")
IS_VIRTUAL_SERVICE = kube.matcher("networking.istio.io/VirtualService")


def _hosts(res: Resource) -> list[Any]:
    spec = kube.spec(res.props)
    if IS_INGRESS(res.type):
        hosts = [as_map(r).get("host") for r in as_list(spec.get("rules"))]
        return hosts + [h for t in as_list(spec.get("tls")) for h in as_list(as_map(t).get("hosts"))]
    if IS_ISTIO_GATEWAY(res.type):
        servers = [as_map(s) for s in as_list(spec.get("servers"))]
        return [h for s in servers for h in (as_list(s.get("hosts")) or [None])]
    if IS_K8S_GATEWAY(res.type):
        return [as_map(x).get("hostname") for x in as_list(spec.get("listeners"))]
    if IS_ROUTE(res.type):
        return as_list(spec.get("hostnames"))
    gateways = [g for g in as_list(spec.get("gateways")) if g != "mesh"]
    return as_list(spec.get("hosts")) if gateways else []


def _owned(host: str, tenant: str, extra: list[str]) -> bool:
    host = host.split("/", 1)[1] if "/" in host else host
    bare = host[2:] if host.startswith("*.") else host
    if any(bare == d or bare.endswith("." + d) for d in extra):
        return True
    return tenant in bare.split(".")[:-1]


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    tenant = tenancy.tenant_of(res.type, res.props) or ""
    tenant_hosts: Mapping[str, Any] = as_map(cfg.option("tenantHosts"))
    extra = [d for d in as_list(tenant_hosts.get(tenant)) if isinstance(d, str)]
    for host in _hosts(res):
        value = text(host)
        if value is None:
            yield MSG_MISSING_HOST
        elif not _owned(value, tenant, extra):
            yield MSG_FOREIGN_HOST
    if IS_INGRESS(res.type) and any(
            isinstance(k, str) and k.startswith("nginx.ingress.kubernetes.io/") and k.endswith("-snippet")
            for k in kube.annotations_of(res.props)):
        yield MSG_SNIPPET


RULE = ResourceRule(
    id="ISO-NET-09",
    description=(
        "Tenant Ingresses, Gateways and routes serve only the tenant's own host names, and use no"
        " NGINX snippets."
    ),
    severity="medium", tiers="NPV", scope="tenant",
    options={"tenantHosts": {
        "type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "default": {},
        "description": "Extra domains per tenant id (custom host names such as files.example.org)."}},
    applies_to=lambda t: any(m(t) for m in (IS_INGRESS, IS_ISTIO_GATEWAY, IS_K8S_GATEWAY,
                                            IS_ROUTE, IS_VIRTUAL_SERVICE)),
    check=check)
