"""ISO-MESH-06 (stack by design): in ambient mode, NetworkPolicies admit HBONE and kubelet probes.

Whether a namespace runs in ambient mode is in the plan: the namespace's
``istio.io/dataplane-mode: ambient`` label, or istiod's chart values ``profile: ambient``
(the whole mesh). The option ``ambient`` forces the check for meshes configured elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import helm, kube, network
from policy.props import as_map, text
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_HBONE = "Allow port 15008 (HBONE) wherever the NetworkPolicy restricts ingress ports (ambient mode)."
MSG_PROBES = "Allow ingress from 169.254.7.127/32, the ambient kubelet probe source."

HBONE_PORT = 15008
PROBE_SOURCE = "169.254.7.127/32"
DATAPLANE_MODE = "istio.io/dataplane-mode"
IS_NAMESPACE = kube.matcher("Namespace")


def _judge(res: Resource) -> Iterator[str]:
    spec = kube.spec(res.props)
    ingress = network.rules(spec, network.INGRESS)
    if network.INGRESS not in network.policy_types(spec) or not ingress:
        return
    if not any(network.port_allows(rule, HBONE_PORT, "TCP") for rule in ingress):
        yield MSG_HBONE
    if not any(text(as_map(p.get("ipBlock")).get("cidr")) == PROBE_SOURCE
               for rule in ingress for p in network.peers(rule)):
        yield MSG_PROBES


def _ambient_namespaces(resources: Sequence[Resource]) -> tuple[bool, set[str]]:
    mesh_wide = any(helm.is_chart_type(r.type) and helm.chart_name(r.props) == "istiod"
                    and helm.values(r.props).get("profile") == "ambient" for r in resources)
    namespaces = {name for r in resources if IS_NAMESPACE(r.type)
                  and kube.labels(r.props).get(DATAPLANE_MODE) == "ambient"
                  and (name := kube.name(r.props)) is not None}
    return mesh_wide, namespaces


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    mesh_wide, namespaces = _ambient_namespaces(resources)
    everywhere = bool(cfg.option("ambient")) or mesh_wide
    for res in resources:
        if not network.is_network_policy(res.type) or not cfg.applies(res):
            continue
        if everywhere or kube.namespace(res.props) in namespaces:
            for message in _judge(res):
                yield Finding(message, res.urn)


RULE = StackRule(
    id="ISO-MESH-06",
    description=(
        "When the mesh runs in ambient mode, tenant NetworkPolicies admit HBONE (15008) and "
        "kubelet probes from 169.254.7.127; port limits move into AuthorizationPolicies."
    ),
    severity="medium", tiers="NP", scope="tenant",
    options={"ambient": {"type": "boolean", "default": False,
                         "description": "Force the check: the mesh runs in ambient mode (no sidecars) "
                                        "even where the plan does not say so."}},
    check=check,
    reads=lambda t: network.is_network_policy(t) or IS_NAMESPACE(t) or helm.is_chart_type(t))
