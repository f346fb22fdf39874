"""ISO-NODE-02 (stack): tenant pods select and tolerate only their own pool.

A taint keeps a pod off a pool only if the pod tolerates none of it and goes through the
scheduler: so besides the tenant=<id> selector and toleration, a tenant pod may tolerate
no taint of any other node group in the stack (the platform's CriticalAddonsOnly system
pool, another tenant's pool), and may not name its node (``spec.nodeName`` bypasses the
scheduler, which is what enforces NoSchedule).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policy import aws, kube, tenancy
from policy.props import as_list, as_map, text
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_KEYLESS = "Remove key-less 'operator: Exists' tolerations; they tolerate every taint."
MSG_FOREIGN_POOL = "Select and tolerate only the tenant's own pool (tenant=<id>), never another tenant's."
MSG_SELECTOR = "Select the tenant's pool with nodeSelector (or required node affinity) tenant=<id>."
MSG_TOLERATION = "Tolerate the tenant's pool taint tenant=<id>:NoSchedule."
MSG_NO_POOL = "Declare the tenant's dedicated node group (tenant=<id>) in this stack."
MSG_FOREIGN_TAINT = ("Tolerate no taint of a node group that is not the tenant's own (the "
                     "platform's system pool, another tenant's pool).")
MSG_NODE_NAME = ("Leave spec.nodeName unset: a pod bound to a node by name skips the scheduler, "
                 "so no NoSchedule taint keeps it off another pool.")

#: Node-group taint effects (EKS API spelling) as Kubernetes spells them on nodes.
EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute",
           "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
#: Effects that keep pods off a node (PreferNoSchedule only discourages).
FENCING = frozenset({"NoSchedule", "NoExecute"})

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


Taint = tuple[str, str, str]


def _fencing_taints(res: Resource) -> list[Taint]:
    """(key, value, Kubernetes effect) of a node group's taints that keep pods off it."""
    found = []
    for taint in (as_map(t) for t in as_list(res.props.get("taints"))):
        effect = str(taint.get("effect"))
        effect = EFFECTS.get(effect, effect)
        if effect in FENCING:
            found.append((str(taint.get("key") or ""), str(taint.get("value") or ""), effect))
    return found


def tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """Whether a toleration tolerates a taint, as Kubernetes matches them.

    An empty key with Exists matches every taint, an empty effect every effect, Exists
    every value; the operator defaults to Equal.
    """
    key, value, effect = taint
    operator = toleration.get("operator") or "Equal"
    if toleration.get("effect") not in (None, "", effect):
        return False
    if not toleration.get("key"):
        return operator == "Exists"
    if toleration.get("key") != key:
        return False
    return operator == "Exists" or str(toleration.get("value") or "") == value


def _judge(template: kube.PodTemplate, tenant: str, dedicated: bool,
           foreign: list[Taint]) -> Iterator[str]:
    tolerations = [as_map(t) for t in as_list(template.spec.get("tolerations"))]
    if any(not t.get("key") and t.get("operator") == "Exists" for t in tolerations):
        yield MSG_KEYLESS
    # Key-less and tenant=<...> tolerations are judged above and below; these are the rest.
    others = [t for t in tolerations if t.get("key") and t.get("key") != KEY]
    if any(tolerates(t, taint) for t in others for taint in foreign):
        yield MSG_FOREIGN_TAINT
    if text(template.spec.get("nodeName")):
        yield MSG_NODE_NAME
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
    groups = [r for r in resources if r.type in aws.NODE_GROUP_TYPES]
    pools = {tenancy.tenant_of(r.type, r.props) for r in groups}
    for res in resources:
        if not kube.is_workload(res.type) or not cfg.applies(res):
            continue
        tenant = tenancy.tenant_of(res.type, res.props)
        if tenant is None:
            continue
        dedicated = tenancy.tier_of(res.type, res.props) == "P"
        foreign = [taint for group in groups if tenancy.tenant_of(group.type, group.props) != tenant
                   for taint in _fencing_taints(group)]
        for message in _judge(kube.pod_template(res.type, res.props), tenant, dedicated, foreign):
            yield Finding(message, res.urn)
        if dedicated and tenant not in pools:
            yield Finding(MSG_NO_POOL, res.urn)


RULE = StackRule(
    id="ISO-NODE-02",
    description=(
        "Tenant pods carry a nodeSelector/affinity and a toleration for their own pool only, the "
        "pool exists, no pod tolerates another pool's taints (key-less Exists included) or names "
        "its node."
    ),
    severity="high", tiers="NP", scope="tenant", check=check,
    reads=lambda t: kube.is_workload(t) or t in aws.NODE_GROUP_TYPES)
