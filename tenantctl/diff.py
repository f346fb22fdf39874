"""What a change does, before it happens: the difference between two offline plans.

``diff_plans(base, head)`` compares two plan.json documents resource by resource (by URN,
following ``aliases``) and says, per stack and per tenant, what a real engine would do:
create, update (which properties), replace (a physical name or a replace-on-change input
changed: :mod:`tenantctl.replacements`), or delete. Protected and retained resources are
called out, and deleting or replacing one is a **data-loss** finding: a mandatory error
unless the head registry records it (an offboarding that destroys data, or a tier
migration that hands the resource to another stack), because a protected resource makes
the real ``pulumi up`` fail and a retained one is left behind in the account, orphaned.
What is data-bearing is the program's to say, by those options
(:meth:`components.context.TenantContext.data_options`): a resource whose deletion loses
nothing is declared without them and goes like any other, such as a dedicated node pool's
volume key, which encrypts only root volumes deleted with their nodes
(:mod:`components.node_pool`).

Only custom resources count: components have no inputs of their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from policy import tenancy
from tenantctl import replacements

Action = Literal["create", "update", "replace", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "replace", "delete")
#: Inputs that never reach the cloud: the pickled dynamic provider, secrets as recorded.
_IGNORED_INPUTS = frozenset({"__provider"})
PLATFORM = "(platform)"


@dataclass(frozen=True)
class Change:
    """One resource's change between the base and the head plan."""

    action: Action
    stack: str
    urn: str
    type: str
    name: str
    tenant: str | None
    #: Changed input paths (update, replace); for replace, the ones that force it come first.
    properties: tuple[str, ...] = ()
    #: The inputs whose change forces the replacement.
    forced_by: tuple[str, ...] = ()
    protected: bool = False
    retained: bool = False

    @property
    def keeps_data(self) -> bool:
        """Protected or retained on delete: the platform marks data-bearing resources so."""
        return self.protected or self.retained

    @property
    def loses_data(self) -> bool:
        """A delete or replace of a protected or retained resource."""
        return self.keeps_data and self.action in ("delete", "replace")

    def as_json(self) -> dict[str, Any]:
        """The change in ``tenantctl diff --json``."""
        return {"action": self.action, "stack": self.stack, "urn": self.urn, "type": self.type,
                "name": self.name, "tenant": self.tenant, "properties": list(self.properties),
                "forcedBy": list(self.forced_by), "protected": self.protected,
                "retained": self.retained}


@dataclass
class PlanDiff:
    """Every change between two plans, and the data-loss findings among them."""

    changes: list[Change] = field(default_factory=list)
    #: Data-bearing deletes/replaces that no recorded offboarding or migration allows.
    errors: list[Change] = field(default_factory=list)
    #: Stacks only one side has.
    added_stacks: list[str] = field(default_factory=list)
    removed_stacks: list[str] = field(default_factory=list)

    def counts(self, changes: Iterable[Change] | None = None) -> Counter[str]:
        """Changes by action."""
        return Counter(c.action for c in (self.changes if changes is None else changes))

    def by_stack(self) -> dict[str, list[Change]]:
        """Changes grouped by stack, stacks sorted."""
        out: dict[str, list[Change]] = {}
        for change in sorted(self.changes, key=lambda c: (c.stack, c.tenant or "", c.urn)):
            out.setdefault(change.stack, []).append(change)
        return out

    def by_tenant(self) -> dict[str, list[Change]]:
        """Changes grouped by owning tenant (platform resources under ``(platform)``)."""
        out: dict[str, list[Change]] = {}
        for change in self.changes:
            out.setdefault(change.tenant or PLATFORM, []).append(change)
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, Any]:
        """``tenantctl diff --json``."""
        return {"summary": dict(self.counts()), "addedStacks": self.added_stacks,
                "removedStacks": self.removed_stacks,
                "changes": [c.as_json() for c in self.changes],
                "errors": [c.as_json() for c in self.errors]}


# --- comparing inputs ------------------------------------------------------------------
def changed_paths(old: Any, new: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths (``spec.template.spec.containers[0].image``) where two values differ.

    Lists are compared item by item; a list whose length changes is one change at the
    list. Policy documents kept as JSON strings differ as a whole string.
    """
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            if key in _IGNORED_INPUTS and not prefix:
                continue
            yield from changed_paths(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from changed_paths(a, b, f"{prefix}[{i}]")
    elif old != new:
        yield prefix or "(inputs)"


def _forced_by(type_: str, options: Mapping[str, Any], paths: Sequence[str]) -> tuple[str, ...]:
    """The changed paths that make the engine replace rather than update."""
    if type_.startswith(replacements.REPLACED_ON_ANY_CHANGE):
        return tuple(paths)
    if type_.startswith("pulumi-python:dynamic/"):
        return tuple(p for p in paths if p == "tenant_id")
    force_new = tuple(replacements.force_new_paths(type_)) + tuple(options.get("replaceOnChanges") or ())
    return tuple(p for p in paths if any(replacements.covers(f, p) for f in force_new)
                 or any(f == "*" for f in force_new))


# --- ownership -------------------------------------------------------------------------
def _owners(resources: Sequence[Mapping[str, Any]], tenants: Sequence[str]) -> dict[str, str | None]:
    """URN -> owning tenant: its own labels/tags/namespace, else its parent's.

    Resources with neither (a bucket's lifecycle configuration, the gateway's per-tenant
    rate limit) belong to the stack's tenant whose id prefixes their logical name: every
    component of a tenant is named ``<id>-<role>`` (the longest matching id wins).
    """
    by_urn = {r["urn"]: r for r in resources}
    cache: dict[str, str | None] = {}
    by_length = sorted(tenants, key=len, reverse=True)

    def by_name(res: Mapping[str, Any]) -> str | None:
        name = str(res.get("name", ""))
        return next((t for t in by_length if name == t or name.startswith(f"{t}-")), None)

    def owner(urn: str, depth: int = 0) -> str | None:
        if urn in cache:
            return cache[urn]
        res = by_urn.get(urn)
        if res is None or depth > 50:
            return None
        found = tenancy.tenant_of(res["type"], res.get("inputs") or {}) or by_name(res)
        if found is None and res.get("parent"):
            found = owner(res["parent"], depth + 1)
        cache[urn] = found
        return found

    return {urn: owner(urn) for urn in by_urn}


def alias_urns(resource: Mapping[str, Any]) -> list[str]:
    """The URNs a resource was known by: alias URNs as given, alias specs resolved.

    A spec (``{"name": ..., "type": ...}``, empty meaning unchanged) rewrites the name or the
    last type of the resource's own URN, as the engine does; the Kubernetes provider adds
    such aliases for every older apiVersion of a kind.
    """
    urns = []
    prefix, _, name = str(resource["urn"]).rpartition("::")
    head, _, types = prefix.rpartition("::")
    for alias in _options(resource).get("aliases") or ():
        if isinstance(alias, str):
            urns.append(alias)
        elif isinstance(alias, Mapping):
            parents, _, own = types.rpartition("$")
            new_type = alias.get("type") or own
            new_types = f"{parents}${new_type}" if parents else new_type
            urns.append(f"{head}::{new_types}::{alias.get('name') or name}")
    return urns


def _options(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    return resource.get("options") or {}


# --- the diff ---------------------------------------------------------------------------
def diff_stack(stack: str, base: Mapping[str, Any], head: Mapping[str, Any]) -> list[Change]:
    """The changes of one stack's custom resources, base -> head (plan.json stack entries)."""
    base_resources, head_resources = base.get("resources", []), head.get("resources", [])
    base_custom = {r["urn"]: r for r in base_resources if r.get("custom", True)}
    head_custom = [r for r in head_resources if r.get("custom", True)]
    base_owner = _owners(base_resources, base.get("tenants", []))
    head_owner = _owners(head_resources, head.get("tenants", []))
    changes: list[Change] = []
    matched: set[str] = set()
    for res in head_custom:
        opts = _options(res)
        old_urn = next((u for u in (res["urn"], *alias_urns(res)) if u in base_custom), None)
        tenant = head_owner.get(res["urn"])
        if old_urn is None:
            changes.append(Change("create", stack, res["urn"], res["type"], res.get("name", ""), tenant,
                                  protected=bool(opts.get("protect")),
                                  retained=bool(opts.get("retainOnDelete"))))
            continue
        matched.add(old_urn)
        old = base_custom[old_urn]
        paths = tuple(changed_paths(old.get("inputs") or {}, res.get("inputs") or {}))
        if not paths:
            continue
        forced = _forced_by(res["type"], opts, paths)
        old_opts = _options(old)
        changes.append(Change(
            "replace" if forced else "update", stack, res["urn"], res["type"], res.get("name", ""),
            tenant, properties=forced + tuple(p for p in paths if p not in forced), forced_by=forced,
            protected=bool(old_opts.get("protect") or opts.get("protect")),
            retained=bool(old_opts.get("retainOnDelete") or opts.get("retainOnDelete"))))
    for urn, old in base_custom.items():
        if urn not in matched:
            opts = _options(old)
            changes.append(Change("delete", stack, urn, old["type"], old.get("name", ""),
                                  base_owner.get(urn), protected=bool(opts.get("protect")),
                                  retained=bool(opts.get("retainOnDelete"))))
    return changes


def diff_plans(base: Mapping[str, Any], head: Mapping[str, Any],
               allowed_data_loss: Iterable[str | tuple[str, str]] = ()) -> PlanDiff:
    """Every change from the base plan to the head plan.

    ``allowed_data_loss``: tenants whose data-bearing resources may go (the head registry
    records their data destruction), or (tenant, stack) pairs whose data may go in that
    stack only (a kept placement's data being destroyed, see
    :func:`tenants.placements.data_loss_allowed`); anything else protected or retained that
    is deleted or replaced is an error.
    """
    allowed = set(allowed_data_loss)
    base_stacks = {s["name"]: s for s in base.get("stacks", [])}
    head_stacks = {s["name"]: s for s in head.get("stacks", [])}
    result = PlanDiff(added_stacks=sorted(set(head_stacks) - set(base_stacks)),
                      removed_stacks=sorted(set(base_stacks) - set(head_stacks)))
    for name in sorted(set(base_stacks) | set(head_stacks)):
        result.changes += diff_stack(name, base_stacks.get(name, {}), head_stacks.get(name, {}))
    result.errors = [c for c in result.changes if c.loses_data and c.tenant not in allowed
                     and (c.tenant, c.stack) not in allowed]
    return result
