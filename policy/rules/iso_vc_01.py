"""ISO-VC-01: a vCluster lives in its tenant's host namespace, with its NetworkPolicy on.

The host namespace's own fences (PSA, quota, LimitRange, default deny) are the NS-02,
NS-03, NS-05 and NET-01 rules, which apply to vcluster-tier namespaces as well.
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import helm, tenancy
from policy.props import get, is_false, is_true
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_NETWORK_POLICY = "Set policies.networkPolicy.enabled: true in the vCluster values (it defaults to false)."
MSG_PLATFORM_EGRESS = ("Set policies.networkPolicy.outgoingConnections.platform: false in the "
                       "vCluster values (the chart's default true lets synced pods reach every "
                       "namespace through namespaceSelector {}).")
MSG_HOST_NAMESPACE = "Install the vCluster chart into its tenant's host namespace 'tenant-<id>'."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if not helm.is_vcluster(res.type, res.props):
        return
    if tenancy.tenant_of_namespace(tenancy.namespace_of(res.type, res.props)) is None:
        yield MSG_HOST_NAMESPACE
    policy = get(helm.values(res.props), "policies", "networkPolicy")
    if not is_true(get(policy, "enabled")):
        yield MSG_NETWORK_POLICY
    elif not is_false(get(policy, "outgoingConnections", "platform")):
        yield MSG_PLATFORM_EGRESS


RULE = ResourceRule(
    id="ISO-VC-01",
    description=(
        "Each vCluster is installed into its tenant's host namespace with "
        "policies.networkPolicy.enabled: true and no platform egress to every namespace."
    ),
    severity="high", tiers="V", scope="all",
    applies_to=helm.is_chart_type, check=check)
