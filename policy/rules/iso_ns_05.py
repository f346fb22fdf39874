"""ISO-NS-05 (stack): each tenant namespace has a LimitRange with container defaults."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy import kube, stackview
from policy.props import as_list, as_map
from policy.rule import Finding, Resource, RuleConfig, StackRule

MSG_NO_LIMITRANGE = "Add a LimitRange to the tenant namespace."
MSG_CONTAINER_DEFAULTS = ("Give the tenant namespace's LimitRange a Container limit with "
                          "default and defaultRequest.")


def _has_container_defaults(limit_range: Resource) -> bool:
    for item in as_list(kube.spec(limit_range.props).get("limits")):
        limit = as_map(item)
        if limit.get("type") == "Container" and as_map(limit.get("default")) \
                and as_map(limit.get("defaultRequest")):
            return True
    return False


def check(resources: Sequence[Resource], cfg: RuleConfig) -> Iterator[Finding]:
    ranges = stackview.by_namespace(resources, kube.matcher("LimitRange"))
    for ns in stackview.tenant_namespaces(resources, cfg):
        found = ranges.get(ns.name, [])
        if not found:
            yield Finding(MSG_NO_LIMITRANGE, ns.resource.urn)
        elif not any(_has_container_defaults(r) for r in found):
            yield Finding(MSG_CONTAINER_DEFAULTS, ns.resource.urn)


RULE = StackRule(
    id="ISO-NS-05",
    description=(
        "Each tenant namespace has a LimitRange giving containers default requests and limits."
    ),
    severity="medium", tiers="NPV", scope="tenant", check=check,
    reads=kube.matcher("Namespace", "LimitRange"))
