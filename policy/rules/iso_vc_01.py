"""ISO-VC-01: a vCluster lives in its tenant's host namespace, with its NetworkPolicy on.

The host namespace's own fences (PSA, quota, LimitRange, default deny) are the NS-02,
NS-03, NS-05 and NET-01 rules, which apply to vcluster-tier namespaces as well.
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import helm, tenancy
from policy.props import get, is_true
from policy.rule import Resource, ResourceRule, RuleConfig

MSG_NETWORK_POLICY = "Set policies.networkPolicy.enabled: true in the vCluster values (it defaults to false)."
MSG_HOST_NAMESPACE = "Install the vCluster chart into its tenant's host namespace 'tenant-<id>'."


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if not helm.is_vcluster(res.type, res.props):
        return
    if tenancy.tenant_of_namespace(tenancy.namespace_of(res.type, res.props)) is None:
        yield MSG_HOST_NAMESPACE
    if not is_true(get(helm.values(res.props), "policies", "networkPolicy", "enabled")):
        yield MSG_NETWORK_POLICY


RULE = ResourceRule(
    id="ISO-VC-01",
    description=(
        "Each vCluster is installed into its tenant's host namespace with "
        "policies.networkPolicy.enabled: true."
    ),
    severity="high", tiers="V", scope="all",
    applies_to=helm.is_chart_type, check=check)
