"""ISO-MESH-07 (stack): routes, gateways, service entries and certificates claim only own hosts.

A mesh object that names another tenant's host redirects that tenant's traffic (a
VirtualService or DestinationRule for ``svc.tenant-b...`` exported mesh-wide, a Gateway
server or Certificate for b's public name) or exposes it. So every host name such an
object claims or routes to must be owned by the object's tenant (:mod:`policy.hosts`,
host ownership from the registry through the ``tenantHosts`` option), VirtualServices
bind only to their tenant's Gateways, and service entries and destination rules stay
visible in their own namespace only.

The tenant of an object is its ``tenant`` label or namespace, or, for the platform's
per-tenant objects in the ingress namespace (Gateway, Certificate), the
``tenant-platform.io/for-tenant`` label.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import hosts, kube, tenancy
from policy.props import as_list, as_map, text
from policy.rule import Finding, Resource, RuleConfig, StackRule
from tenants import naming

MSG_FOREIGN_HOST = ("Claim only the tenant's own host names: its registry hosts (option "
                    "tenantHosts) and services of its own namespace.")
MSG_FOREIGN_DESTINATION = ("Route only to services of the tenant's own namespace (or its own "
                           "hosts); this destination is another tenant's or outside the mesh.")
MSG_FOREIGN_GATEWAY = "Bind the VirtualService only to 'mesh' or its own tenant's Gateway."
MSG_GATEWAY_NAMESPACE = ("Prefix Gateway server hosts with the tenant's own namespace "
                         "('tenant-<id>/<host>'), never '*' or another namespace.")
MSG_EXPORT = ("Export ServiceEntries, DestinationRules and VirtualServices only to the own "
              "namespace ('.'; VirtualServices also to the ingress namespace); ServiceEntries and "
              "DestinationRules must set exportTo (the default is '*').")

IS_VS = kube.matcher("networking.istio.io/VirtualService")
IS_GATEWAY = kube.matcher("networking.istio.io/Gateway")
IS_SE = kube.matcher("networking.istio.io/ServiceEntry")
IS_DR = kube.matcher("networking.istio.io/DestinationRule")
IS_CERT = kube.matcher("cert-manager.io/Certificate")
IS_INGRESS = kube.matcher("networking.k8s.io/Ingress")
IS_ROUTE = kube.matcher("gateway.networking.k8s.io/HTTPRoute", "gateway.networking.k8s.io/GRPCRoute",
                        "gateway.networking.k8s.io/TLSRoute")
IS_K8S_GATEWAY = kube.matcher("gateway.networking.k8s.io/Gateway")
JUDGED = (IS_VS, IS_GATEWAY, IS_SE, IS_DR, IS_CERT, IS_INGRESS, IS_ROUTE, IS_K8S_GATEWAY)


def _public_names(res: Resource, spec: Mapping[str, Any]) -> list[Any]:
    """The public host names an Ingress, Gateway API route or listener, or Certificate claims."""
    if IS_INGRESS(res.type):
        return ([as_map(r).get("host") for r in as_list(spec.get("rules")) if as_map(r).get("host")]
                + [h for t in as_list(spec.get("tls")) for h in as_list(as_map(t).get("hosts"))])
    if IS_ROUTE(res.type):
        return as_list(spec.get("hostnames"))
    if IS_K8S_GATEWAY(res.type):
        return [h for x in as_list(spec.get("listeners")) if (h := as_map(x).get("hostname"))]
    return [*as_list(spec.get("dnsNames")), *([spec["commonName"]] if spec.get("commonName") else [])]


def owner(res: Resource) -> str | None:
    """The tenant an object belongs to or acts for."""
    return tenancy.tenant_of(res.type, res.props) or text(kube.labels(res.props).get(naming.LABEL_FOR_TENANT))


def _destinations(spec: Mapping[str, Any]) -> Iterator[Any]:
    for kind in ("http", "tcp", "tls"):
        for route in as_list(spec.get(kind)):
            route = as_map(route)
            for dest in as_list(route.get("route")):
                yield as_map(as_map(dest).get("destination")).get("host")
            if route.get("mirror") is not None:
                yield as_map(route.get("mirror")).get("host")
            for mirror in as_list(route.get("mirrors")):
                yield as_map(as_map(mirror).get("destination")).get("host")


def _gateway_owners(resources: Sequence[Resource]) -> dict[str, str | None]:
    return {f"{kube.namespace(r.props)}/{kube.name(r.props)}": owner(r)
            for r in resources if IS_GATEWAY(r.type)}


def _exports_ok(spec: Mapping[str, Any], namespace: str, required: bool, extra: tuple[str, ...] = ()) -> bool:
    exports = [str(e) for e in as_list(spec.get("exportTo"))]
    if not exports:
        return not required
    return all(e in (".", namespace, *extra) for e in exports)


def _judge(res: Resource, tenant: str, domains: list[str], external: list[str],
           gateways: Mapping[str, str | None]) -> Iterator[str]:
    spec = kube.spec(res.props)
    own = tenancy.tenant_namespace(tenant)
    here = kube.namespace(res.props) or own
    if IS_VS(res.type):
        if any(not hosts.owned(str(h), own, domains) for h in as_list(spec.get("hosts"))):
            yield MSG_FOREIGN_HOST
        if any(h is None or not hosts.owned(str(h), own, domains) for h in _destinations(spec)):
            yield MSG_FOREIGN_DESTINATION
        for gateway in (str(g) for g in as_list(spec.get("gateways"))):
            key = gateway if "/" in gateway else f"{here}/{gateway}"
            if gateway != "mesh" and gateways.get(key) != tenant:
                yield MSG_FOREIGN_GATEWAY
        if not _exports_ok(spec, here, False, (naming.INGRESS_NAMESPACE,)):
            yield MSG_EXPORT
    elif IS_GATEWAY(res.type):
        for server in as_list(spec.get("servers")):
            for entry in (str(h) for h in as_list(as_map(server).get("hosts"))):
                namespace, bare = hosts.split_namespace(entry)
                if namespace not in (own,):
                    yield MSG_GATEWAY_NAMESPACE
                if not hosts.owned(bare, own, domains, internal=False):
                    yield MSG_FOREIGN_HOST
    elif IS_SE(res.type):
        if any(not (hosts.owned(str(h), own, domains) or str(h) in external)
               for h in as_list(spec.get("hosts"))):
            yield MSG_FOREIGN_HOST
        if not _exports_ok(spec, here, True):
            yield MSG_EXPORT
    elif IS_DR(res.type):
        if not hosts.owned(str(spec.get("host") or "*"), own, domains):
            yield MSG_FOREIGN_HOST
        if not _exports_ok(spec, here, True):
            yield MSG_EXPORT
    elif any(not hosts.owned(str(h), own, domains, internal=False) for h in _public_names(res, spec)):
        yield MSG_FOREIGN_HOST


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    tenant_hosts: Mapping[str, Any] = as_map(cfg.option("tenantHosts"))
    external = [str(h) for h in cfg.option("externalHosts")]
    gateways = _gateway_owners(resources)
    for res in resources:
        if not any(m(res.type) for m in JUDGED) or not cfg.applies(res):
            continue
        tenant = owner(res)
        if tenant is None:
            continue
        domains = [str(d) for d in as_list(tenant_hosts.get(tenant))]
        for message in _judge(res, tenant, domains, external, gateways):
            yield Finding(message, res.urn)


RULE = StackRule(
    id="ISO-MESH-07",
    description=(
        "VirtualService hosts, destinations and gateways, Gateway servers, ServiceEntry and "
        "DestinationRule hosts, Ingress, Gateway API and Certificate names of a tenant are its own "
        "(registry hosts or its namespace's services), and entries are exported only to the own "
        "namespace."
    ),
    severity="high", tiers="NPV", scope="all", check=check,
    options={
        "tenantHosts": {
            "type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "default": {},
            "description": "Tenant id -> its host names (from the registry; tenantctl and the "
                           "policy config set it)."},
        "externalHosts": {
            "type": "array", "items": {"type": "string"}, "default": ["*.amazonaws.com"],
            "description": "External hosts any tenant may register for itself (exportTo '.')."},
    },
    reads=lambda t: any(m(t) for m in JUDGED))
