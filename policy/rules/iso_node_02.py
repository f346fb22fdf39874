"""ISO-NODE-02 (stack): tenant pods select and tolerate only their own pool."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import aws, kube, tenancy
from policy.props import as_list, as_map
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_KEYLESS = "Remove key-less 'operator: Exists' tolerations; they tolerate every taint."
MSG_FOREIGN_POOL = "Select and tolerate only the tenant's own pool (tenant=<id>), never another tenant's."
MSG_SELECTOR = "Select the tenant's pool with nodeSelector (or required node affinity) tenant=<id>."
MSG_TOLERATION = "Tolerate the tenant's pool taint tenant=<id>:NoSchedule."
MSG_NO_POOL = "Declare the tenant's dedicated node group (tenant=<id>) in this stack."

KEY = tenancy.LABEL_TENANT


def _terms(spec: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    """Required node-affinity terms (ORed), each a list of match expressions (ANDed)."""
    required = as_map(as_map(as_map(spec.get("affinity")).get("nodeAffinity"))
                      .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return [[as_map(e) for e in as_list(as_map(t).get("matchExpressions"))]
            for t in as_list(required.get("nodeSelectorTerms"))]


def _selected_tenants(spec: Mapping[str, Any]) -> tuple[set[Any], bool]:
    """Tenants named by the pod's selectors, and whether every path pins one tenant."""
    named: set[Any] = set()
    selector = as_map(spec.get("nodeSelector"))
    pinned = KEY in selector
    if pinned:
        named.add(selector[KEY])
    terms = _terms(spec)
    term_pins = []
    for term in terms:
        pins = False
        for expr in term:
            if expr.get("key") == KEY:
                values = as_list(expr.get("values"))
                named.update(values)
                pins = pins or (expr.get("operator") == "In" and len(values) == 1)
        term_pins.append(pins)
    return named, pinned or (bool(terms) and all(term_pins))


def _judge(template: kube.PodTemplate, tenant: str, dedicated: bool) -> Iterator[str]:
    tolerations = [as_map(t) for t in as_list(template.spec.get("tolerations"))]
    if any(not t.get("key") and t.get("operator") == "Exists" for t in tolerations):
        yield MSG_KEYLESS
    tenant_tolerations = [t for t in tolerations if t.get("key") == KEY]
    named, pinned = _selected_tenants(template.spec)
    if any(t.get("operator") == "Exists" or t.get("value") != tenant for t in tenant_tolerations) \
            or named - {tenant}:
        yield MSG_FOREIGN_POOL
    if dedicated:
        if not pinned:
            yield MSG_SELECTOR
        if not any(t.get("value") == tenant and t.get("effect") in (None, "NoSchedule")
                   for t in tenant_tolerations):
            yield MSG_TOLERATION


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    pools = {tenancy.tenant_of(r.type, r.props) for r in resources if r.type in aws.NODE_GROUP_TYPES}
    for res in resources:
        if not kube.is_workload(res.type) or not cfg.applies(res):
            continue
        tenant = tenancy.tenant_of(res.type, res.props)
        if tenant is None:
            continue
        dedicated = tenancy.tier_of(res.type, res.props) == "P"
        for message in _judge(kube.pod_template(res.type, res.props), tenant, dedicated):
            yield Finding(message, res.urn)
        if dedicated and tenant not in pools:
            yield Finding(MSG_NO_POOL, res.urn)


RULE = StackRule(
    id="ISO-NODE-02",
    description=(
        "Tenant pods carry a nodeSelector/affinity and a toleration for their own pool only, the "
        "pool exists, and no pod has a key-less Exists toleration."
    ),
    severity="high", tiers="NP", scope="tenant", check=check,
    reads=lambda t: kube.is_workload(t) or t in aws.NODE_GROUP_TYPES)
