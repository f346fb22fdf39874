"""What the fair-share rules (ISO-NS-03/04/05) read: the tenant's plan, quantities, quotas.

The plan table has one owner, :mod:`tenants.plans`; a rule never re-states a plan's
figures. It reads the ``plan`` label of the object it judges (the tenant namespace for the
stack rules) and looks the plan up there, so a quota or LimitRange raised above what the
plan grants is a violation, and so is a label that names no plan (the rule cannot tell
what the tenant may have, and must not guess).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from policy import kube
from policy.props import as_list, as_map, is_map, text
from policy.rule import Resource
from tenants import naming
from tenants.plans import PlanSpec, load_plans
from tenants.quantity import parse_quantity

#: Compute resources every container and pod is bounded on.
COMPUTE = ("cpu", "memory", "ephemeral-storage")


def plan_of(props: Mapping[str, Any]) -> PlanSpec | None:
    """The plan the object's ``plan`` label names, or ``None`` if it names none."""
    name = text(kube.labels(props).get(naming.LABEL_PLAN))
    return load_plans().get(name) if name else None


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (string or number) as an exact number, ``None`` if it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


def is_scoped(quota: Resource) -> bool:
    """Whether a ResourceQuota counts only some pods (``scopes`` or ``scopeSelector`` set).

    Any value other than an empty list or map counts as set: a rule cannot prove that a
    selector it does not understand matches every pod.
    """
    spec = kube.spec(quota.props)
    return any(spec.get(key) not in (None, [], {}) for key in ("scopes", "scopeSelector"))


def hard(quota: Resource) -> Mapping[str, Any]:
    """The quota's ``spec.hard`` map."""
    return as_map(kube.spec(quota.props).get("hard"))


def tightest(quotas: Iterable[Resource], key: str) -> tuple[Decimal | None, Resource | None]:
    """The smallest cap on ``key`` among quotas (every quota is enforced), and its quota.

    ``(None, None)`` if none caps it; a value that is not a quantity caps nothing.
    """
    best: tuple[Decimal | None, Resource | None] = (None, None)
    for quota in quotas:
        value = quantity(hard(quota).get(key))
        if value is not None and (best[0] is None or value < best[0]):
            best = (value, quota)
    return best


def limit_items(limit_range: Resource, kind: str) -> list[Mapping[str, Any]]:
    """The LimitRange's ``spec.limits`` entries of one ``type`` (Container, Pod, ...)."""
    return [as_map(item) for item in as_list(kube.spec(limit_range.props).get("limits"))
            if is_map(item) and as_map(item).get("type") == kind]


def tightest_bound(ranges: Iterable[Resource], kind: str, field: str,
                   resource: str) -> Decimal | None:
    """The smallest ``field`` (``max``) on ``resource`` among the ranges' entries of ``kind``.

    Every LimitRange in a namespace is enforced, so the smallest maximum is the one that holds.
    """
    values = [quantity(as_map(item.get(field)).get(resource))
              for r in ranges for item in limit_items(r, kind)]
    found = [v for v in values if v is not None]
    return min(found) if found else None
