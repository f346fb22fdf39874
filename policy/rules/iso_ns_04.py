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
MSG_ZERO = "Set {key}: 0 in the ResourceQuota's spec.hard."
MSG_COUNT = "Cap {key} in the ResourceQuota's spec.hard."
# Kept for readers of earlier messages: the two Service kinds every tenant quota zeroes.
MSG_NODEPORTS = MSG_ZERO.format(key="services.nodeports")
MSG_LOADBALANCERS = MSG_ZERO.format(key="services.loadbalancers")


def check(res: Resource, cfg: RuleConfig) -> Iterator[str]:
    if fairshare.is_scoped(res):
        yield MSG_SCOPED
    hard = fairshare.hard(res)
    for key in QUOTA_ZERO_KEYS:
        if number(hard.get(key)) != 0:
            yield MSG_ZERO.format(key=key)
    for key in QUOTA_COUNT_KEYS:
        if fairshare.quantity(hard.get(key, hard.get(f"count/{key}"))) is None:
            yield MSG_COUNT.format(key=key)


RULE = ResourceRule(
    id="ISO-NS-04",
    description=(
        "Tenant ResourceQuotas have no scopes or scopeSelector, cap pods, PVCs, services, secrets "
        "and config maps, and allow no NodePort or LoadBalancer Service."
    ),
    severity="high", tiers="NPV", scope="tenant",
    applies_to=kube.matcher("ResourceQuota"), check=check)
