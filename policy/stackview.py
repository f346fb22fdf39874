"""Helpers for stack rules: tenant namespaces, objects per namespace, links between resources."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy import kube, tenancy
from policy.props import text
from policy.rule import Resource, RuleConfig


@dataclass(frozen=True)
class TenantNamespace:
    """A tenant's Namespace resource, its name and its tenant."""

    resource: Resource
    name: str
    tenant: str


def tenant_namespaces(resources: Iterable[Resource], cfg: RuleConfig) -> list[TenantNamespace]:
    """The tenant Namespaces the rule judges in this stack (named ones only)."""
    found = []
    for res in resources:
        if not kube.matcher("Namespace")(res.type) or not cfg.applies(res):
            continue
        tenant = tenancy.tenant_of(res.type, res.props)
        name = kube.name(res.props)
        if tenant is not None and name is not None:
            found.append(TenantNamespace(res, name, tenant))
    return found


def by_namespace(resources: Iterable[Resource],
                 matches: Callable[[str], bool]) -> dict[str, list[Resource]]:
    """Objects of the matching kinds, grouped by ``metadata.namespace``."""
    grouped: dict[str, list[Resource]] = {}
    for res in resources:
        if matches(res.type):
            namespace = kube.namespace(res.props)
            if namespace is not None:
                grouped.setdefault(namespace, []).append(res)
    return grouped


def of_types(resources: Iterable[Resource], *types: str) -> list[Resource]:
    """Resources whose type token is one of ``types``."""
    return [r for r in resources if r.type in types]


def refers_to(value: Any, name: str) -> bool:
    """Whether a property value names a resource.

    It does if it is the name, an ARN ending in it, or an id derived from it (``<name>-...``).
    """
    if not isinstance(value, str) or not name:
        return False
    return (value == name or value.endswith((":" + name, "/" + name, ":::" + name))
            or value.startswith(name + "-"))


def linked(res: Resource, prop: str, candidates: Mapping[str, Sequence[str]], *,
           sole_reference: bool = True) -> str | None:
    """The URN of the candidate a property of ``res`` points at, or ``None`` if unsure.

    ``candidates`` maps URN -> physical names. Evidence, strongest first: the engine's
    property dependencies; the only candidate among the resource's dependencies (only when
    ``prop`` is the resource's sole reference to such candidates, so that property is
    what the dependency came from); the property's value naming a candidate. Where none
    decides, the link is unknown and rules must not guess a violation.
    """
    from_engine = [u for u in res.property_dependencies.get(prop, ()) if u in candidates]
    if len(from_engine) == 1:
        return from_engine[0]
    if sole_reference:
        deps = [u for u in res.dependencies if u in candidates]
        if len(deps) == 1:
            return deps[0]
    value = text(res.props.get(prop))
    if value is None:
        return None
    matches = [(max(len(n) for n in names if refers_to(value, n)), urn)
               for urn, names in candidates.items() if any(refers_to(value, n) for n in names)]
    if not matches:
        return None
    matches.sort(reverse=True)
    return matches[0][1]
