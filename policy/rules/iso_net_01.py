"""ISO-NET-01 (stack): default-deny plus DNS-only egress in every tenant namespace."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import kube, network, stackview
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_DEFAULT_DENY = ("Add a default-deny NetworkPolicy to the tenant namespace: podSelector {}, "
                    "policyTypes Ingress and Egress, no rules.")
MSG_DNS = ("Allow DNS egress to kube-dns only: UDP port 53 to namespace kube-system "
           "(namespaceSelector kubernetes.io/metadata.name: kube-system).")


def _allows_dns(policy: Resource) -> bool:
    for rule in network.rules(kube.spec(policy.props), network.EGRESS):
        if network.port_allows(rule, 53, "UDP") and any(
                network.selects_namespace(p, "kube-system") for p in network.peers(rule)):
            return True
    return False


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    policies = stackview.by_namespace(resources, network.is_network_policy)
    for ns in stackview.tenant_namespaces(resources, cfg):
        found = policies.get(ns.name, [])
        denied = set().union(*(network.denied_types(kube.spec(p.props)) for p in found))
        if not {network.INGRESS, network.EGRESS} <= denied:
            yield Finding(MSG_DEFAULT_DENY, ns.resource.urn)
        if not any(_allows_dns(p) for p in found):
            yield Finding(MSG_DNS, ns.resource.urn)


RULE = StackRule(
    id="ISO-NET-01",
    description=(
        "Every tenant namespace has a default-deny NetworkPolicy for ingress and egress, plus an "
        "egress allowance for DNS only."
    ),
    severity="critical", tiers="NPV", scope="tenant", check=check,
    reads=kube.matcher("Namespace", "networking.k8s.io/NetworkPolicy"))
