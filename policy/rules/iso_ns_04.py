"""ISO-NS-04: tenant quotas are unscoped, cap object counts, and allow no NodePort or LoadBalancer.

High, so it blocks: a quota with ``scopes`` or ``scopeSelector`` counts only the pods it
matches (``BestEffort``, ``NotTerminating``, a priority class...) and every other pod of the
namespace runs unbounded, which starves the cell's other tenants as surely as no quota at
all. Object counts (pods, volume claims, secrets, config maps, services) bound what a tenant
can pile into the shared API server and etcd; ``services.nodeports`` and
``services.loadbalancers`` must be exactly 0 (a NodePort opens every node of the cell, a
load balancer is an entry point the platform does not own). Whether counts are within the
plan is judged with the namespace's plan by ISO-NS-03.
"""

from __future__ import annotations

from collections.abc import Iterator

from policy import fairshare, kube
from policy.props import number
from policy.rule import Resource, ResourceRule, RuleConfig
from tenants.plans import QUOTA_COUNT_KEYS, QUOTA_ZERO_KEYS

MSG_SCOPED = ("Remove scopes and scopeSelector from the tenant ResourceQuota: a scoped quota counts "
              "only the pods it matches and leaves the others unbounded.")
MSG_NODEPORTS = "Set services.nodeports: 0 in the ResourceQuota's spec.hard."
MSG_LOADBALANCERS = "Set services.loadbalancers: 0 in the ResourceQuota's spec.hard."
MSG_PODS = "Cap pods in the ResourceQuota's spec.hard."
MSG_PVCS = "Cap persistentvolumeclaims in the ResourceQuota's spec.hard."
MSG_SERVICES = "Cap services in the ResourceQuota's spec.hard."
MSG_SECRETS_CAP = "Cap secrets in the ResourceQuota's spec.hard."
MSG_CONFIGMAPS = "Cap configmaps in the ResourceQuota's spec.hard."

#: The message of each key that must be 0, and of each count that must be capped.
ZERO = {"services.nodeports": MSG_NODEPORTS, "services.loadbalancers": MSG_LOADBALANCERS}
COUNTS = {"pods": MSG_PODS, "persistentvolumeclaims": MSG_PVCS, "services": MSG_SERVICES,
          "secrets": MSG_SECRETS_CAP, "configmaps": MSG_CONFIGMAPS}
assert set(ZERO) == set(QUOTA_ZERO_KEYS) and set(COUNTS) == set(QUOTA_COUNT_KEYS)


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if fairshare.is_scoped(res):
        yield MSG_SCOPED
    hard = fairshare.hard(res)
    for key, message in ZERO.items():
        if number(hard.get(key)) != 0:
            yield message
    for key, message in COUNTS.items():
        if fairshare.quantity(hard.get(key, hard.get(f"count/{key}"))) is None:
            yield message


RULE = ResourceRule(
    id="ISO-NS-04",
    description=(
        "Tenant ResourceQuotas have no scopes or scopeSelector, cap pods, PVCs, services, secrets "
        "and config maps, and allow no NodePort or LoadBalancer Service."
    ),
    severity="high", tiers="NPV", scope="tenant",
    applies_to=kube.matcher("ResourceQuota"), check=check)
