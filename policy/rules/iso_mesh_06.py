"""ISO-MESH-06: in ambient mode, NetworkPolicies admit HBONE and kubelet probes."""

from __future__ import annotations

from collections.abc import Iterator

from policy import kube, network
from policy.props import as_map, text
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_HBONE = "Allow port 15008 (HBONE) wherever the NetworkPolicy restricts ingress ports (ambient mode)."
MSG_PROBES = "Allow ingress from 169.254.7.127/32, the ambient kubelet probe source."

HBONE_PORT = 15008
PROBE_SOURCE = "169.254.7.127/32"


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if not cfg.option("ambient"):
        return
    spec = kube.spec(res.props)
    ingress = network.rules(spec, network.INGRESS)
    if network.INGRESS not in network.policy_types(spec) or not ingress:
        return
    if not any(network.port_allows(rule, HBONE_PORT, "TCP") for rule in ingress):
        yield MSG_HBONE
    if not any(text(as_map(p.get("ipBlock")).get("cidr")) == PROBE_SOURCE
               for rule in ingress for p in network.peers(rule)):
        yield MSG_PROBES


RULE = ResourceRule(
    id="ISO-MESH-06",
    description=(
        "When the mesh runs in ambient mode, tenant NetworkPolicies admit HBONE (15008) and "
        "kubelet probes from 169.254.7.127; port limits move into AuthorizationPolicies."
    ),
    severity="medium", tiers="NP", scope="tenant",
    options={"ambient": {"type": "boolean", "default": False,
                         "description": "Whether the mesh runs in ambient mode (no sidecars)."}},
    applies_to=network.is_network_policy, check=check)
