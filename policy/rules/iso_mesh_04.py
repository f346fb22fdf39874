"""ISO-MESH-04: tenants cannot own Gateways or EnvoyFilters; no ``hosts: "*"``."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube, tenancy
from policy.props import as_list, as_map
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_TENANT_GATEWAY = ("Tenants may not own Gateways or EnvoyFilters; route through the "
                      "platform's ingress gateway.")
MSG_WILDCARD_HOST = "Replace hosts '*' with explicit host names."
MSG_ROLE = "Remove the right to create or change Gateways and EnvoyFilters from the tenant Role."

IS_GATEWAY = kube.matcher("networking.istio.io/Gateway", "gateway.networking.k8s.io/Gateway")
IS_ENVOY_FILTER = kube.matcher("networking.istio.io/EnvoyFilter")
IS_VIRTUAL_SERVICE = kube.matcher("networking.istio.io/VirtualService")
IS_ROLE = kube.matcher("rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole")
MESH_EDGE = (({"networking.istio.io"}, {"gateways", "envoyfilters"}),
             ({"gateway.networking.k8s.io"}, {"gateways"}))


def _hosts(res: Resource) -> list[object]:
    spec = kube.spec(res.props)
    if IS_VIRTUAL_SERVICE(res.type):
        return as_list(spec.get("hosts"))
    return [h for s in as_list(spec.get("servers")) for h in as_list(as_map(s).get("hosts"))]


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    tenant_owned = tenancy.tenant_of(res.type, res.props) is not None
    if IS_ROLE(res.type):
        if tenant_owned and any(kube.grants(rule, g, r, kube.WRITE_VERBS)
                                for rule in kube.rules_of(res.props) for g, r in MESH_EDGE):
            yield MSG_ROLE
        return
    if tenant_owned and (IS_GATEWAY(res.type) or IS_ENVOY_FILTER(res.type)):
        yield MSG_TENANT_GATEWAY
    if any(str(h).split("/")[-1] == "*" for h in _hosts(res)):
        yield MSG_WILDCARD_HOST


RULE = ResourceRule(
    id="ISO-MESH-04",
    description=(
        "Tenants own no Gateways or EnvoyFilters and cannot create them, and no Gateway or "
        "VirtualService serves hosts '*'."
    ),
    severity="high", tiers="NP", scope="all",
    applies_to=lambda t: any(m(t) for m in (IS_GATEWAY, IS_ENVOY_FILTER, IS_VIRTUAL_SERVICE, IS_ROLE)),
    check=check)
