"""ISO-MESH-03: Sidecars limit egress hosts and only reach registered services."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube
from policy.props import as_list, as_map
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_EGRESS_HOSTS = ("Limit the Sidecar's egress hosts to './*' and 'istio-system/*' "
                    "(option allowedEgressHosts).")
MSG_REGISTRY_ONLY = "Set outboundTrafficPolicy.mode REGISTRY_ONLY on the Sidecar."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    spec = kube.spec(res.props)
    allowed = set(cfg.option("allowedEgressHosts"))
    hosts = [h for e in as_list(spec.get("egress")) for h in as_list(as_map(e).get("hosts"))]
    if not hosts or any(h not in allowed for h in hosts):
        yield MSG_EGRESS_HOSTS
    if as_map(spec.get("outboundTrafficPolicy")).get("mode") != "REGISTRY_ONLY":
        yield MSG_REGISTRY_ONLY


RULE = ResourceRule(
    id="ISO-MESH-03",
    description=(
        "Tenant Sidecars limit egress hosts to the own namespace and istio-system, with "
        "REGISTRY_ONLY outbound traffic (hygiene: egress is enforced by the gateway and "
        "NetworkPolicy)."
    ),
    severity="medium", tiers="NP", scope="tenant",
    options={"allowedEgressHosts": {
        "type": "array", "items": {"type": "string"}, "default": ["./*", "istio-system/*"],
        "description": "Sidecar egress hosts tenants may list."}},
    applies_to=kube.matcher("networking.istio.io/Sidecar"), check=check)
