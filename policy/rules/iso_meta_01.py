"""ISO-META-01 (stack): tenant and tier labels and tags agree across the stack.

High, not the catalogue's medium: every rule decides by a resource's tier label whether
it applies (``RuleConfig.applies``), so a tier label that disagrees with the namespace's
switches rules off: a node-tier pod relabelled ``vcluster`` escapes ISO-NODE-02's pool
pinning, and a tier the stack does not hold (``cluster`` in a cell, ``namespace`` in a
dedicated stack) escapes every rule. A label that decides enforcement must block when it
lies, so this rule judges a resource by its tenant namespace's tier, never by its own
label: the rule's tier filter cannot be switched off by the lie it is there to catch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import aws, kube, stackview, tenancy
from policy.props import as_map, text
from policy.rule import TIER_LETTERS, Finding, Resource, RuleConfig, StackRule

MSG_TIER_MISMATCH = "Make the tier label or tag agree with the tier label of the tenant's namespace."
MSG_MISSING_TIER = "Label or tag the tenant's resource with its tier next to its tenant."
MSG_UNKNOWN_TENANT = "Label or tag resources only with tenants that have a namespace in this stack."
MSG_POOL_MISMATCH = "Make the node group's tenant and tier labels agree with its tenant and tier tags."


def _pool(res: Resource) -> Iterator[str]:
    tags, labels = aws.tags(res.props), as_map(res.props.get("labels"))
    for key in (tenancy.LABEL_TENANT, tenancy.LABEL_TIER):
        if key in tags and key in labels and tags[key] != labels[key]:
            yield MSG_POOL_MISMATCH
            return


def _data_only_tenant(resources: Sequence[Resource], cfg: RuleConfig) -> dict[str, str | None]:
    """The one tenant of a stack without Kubernetes (an offboarded dedicated tenant's data).

    With no namespace to judge by, the stack's tenant is the one every tagged resource
    names, with the one tier they all give, and only if this stack holds that tier: two
    tenants, two tiers or a tier the stack does not hold still fail as before.
    """
    pairs = {(text(labels.get(tenancy.LABEL_TENANT)), text(labels.get(tenancy.LABEL_TIER)))
             for labels in (tenancy.owner_labels(r.type, r.props) for r in resources
                            if not tenancy.is_helm(r.type))
             if labels.get(tenancy.LABEL_TENANT) is not None}
    if len(pairs) != 1:
        return {}
    ((tenant, tier),) = pairs
    if tenant is None or tenancy.TIER_LETTER.get(tier or "") not in cfg.tiers:
        return {}
    return {tenant: tier}


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    if not cfg.tiers:
        return
    # Every tier, so that a lying tier label hides neither a namespace nor a resource.
    every_tier = RuleConfig(scope=cfg.scope, tiers=frozenset(TIER_LETTERS), options=cfg.options)
    tiers = {ns.tenant: text(kube.labels(ns.resource.props).get(tenancy.LABEL_TIER))
             for ns in stackview.tenant_namespaces(resources, every_tier)}
    tiers = tiers or _data_only_tenant(resources, cfg)
    for res in resources:
        if tenancy.is_helm(res.type) or not every_tier.applies(res):
            continue
        labels = tenancy.owner_labels(res.type, res.props)
        tenant = text(labels.get(tenancy.LABEL_TENANT))
        if tenant is None:
            continue
        true_tier = tenancy.TIER_LETTER.get(tiers.get(tenant) or "")
        if true_tier is not None and true_tier not in cfg.tiers:
            continue  # the tenant's real tier is one this rule is not configured for
        tier = text(labels.get(tenancy.LABEL_TIER))
        if tenant not in tiers:
            yield Finding(MSG_UNKNOWN_TENANT, res.urn)
        elif tier is None:
            yield Finding(MSG_MISSING_TIER, res.urn)
        elif tier != tiers[tenant]:
            yield Finding(MSG_TIER_MISMATCH, res.urn)
        if res.type in aws.NODE_GROUP_TYPES:
            for message in _pool(res):
                yield Finding(message, res.urn)


RULE = StackRule(
    id="ISO-META-01",
    description=(
        "Tenant and tier labels and tags on Kubernetes objects, node pools and AWS resources "
        "agree with the tenant's namespace."
    ),
    severity="high", tiers="NPVD", scope="tenant", check=check)
