"""ISO-NET-03 (stack): something enforces NetworkPolicies."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import aws, helm, kube, stackview
from policy.props import as_map, is_true
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_ADDON = "Set enableNetworkPolicy to \"true\" in the vpc-cni add-on's configurationValues."
MSG_NO_ENFORCER = ("Install a NetworkPolicy enforcer: the vpc-cni add-on with enableNetworkPolicy "
                   "\"true\", or Calico or Cilium.")

IS_NAMESPACE = kube.matcher("Namespace")
ENFORCER_CHARTS = frozenset({"calico", "tigera-operator", "cilium"})


def _enforces(res: Resource) -> bool:
    if aws.is_vpc_cni(res.type, res.props):
        return aws.cni_network_policy_enabled(aws.addon_config(res.props))
    if res.type == aws.EKS_COMPONENT:
        return is_true(as_map(res.props.get("vpcCniOptions")).get("enableNetworkPolicy"))
    return helm.is_chart_type(res.type) and helm.chart_name(res.props) in ENFORCER_CHARTS


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    if not stackview.tenant_namespaces(resources, cfg) or any(_enforces(r) for r in resources):
        return
    addons = [r for r in resources if aws.is_vpc_cni(r.type, r.props)]
    if addons:
        for addon in addons:
            yield Finding(MSG_ADDON, addon.urn)
        return
    clusters = stackview.of_types(resources, *aws.CLUSTER_TYPES)
    yield Finding(MSG_NO_ENFORCER, clusters[0].urn if clusters else None)


RULE = StackRule(
    id="ISO-NET-03",
    description=(
        "A stack with tenant namespaces runs a NetworkPolicy enforcer: the vpc-cni add-on with "
        "network policy enabled, or Calico or Cilium."
    ),
    severity="critical", tiers="NPV", scope="all", check=check,
    reads=lambda t: t in (aws.ADDON, *aws.CLUSTER_TYPES) or helm.is_chart_type(t) or IS_NAMESPACE(t))
