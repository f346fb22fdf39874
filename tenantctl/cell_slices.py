"""Plan a large cell in slices of its tenants, in parallel, and merge them into the cell's plan.

A cell's program is its shared part (provider, host cluster, add-ons, cell database:
about 150 resources) and then the same components once per tenant, each tenant's through
refs to the shared part only (``components.program.build_cell``). No tenant's resources
read another tenant's, and the shared part reads the tenant list as registry data only,
which every slice has. So a cell of a hundred tenants, one program of 10,000 resources
and a minute of one core, can be planned as several programs in several processes:

- the shared part alone (``build_stack(spec, only=())``), and
- the shared part with each slice of the tenants (``build_stack(spec, only=slice)``),

then merged. The resource rules judge each resource where it was planned (a resource
rule reads one resource and its provider, both in every slice); the stack rules judge the
merged stack once, because they compare tenants with one another.

The merge trusts nothing it can check: every slice must have declared the shared part
exactly as the shared slice did (else :class:`SliceMismatch`), and no resource of one
slice's tenants may reappear in another's (:class:`DuplicateResource`, which the whole
program's monitor raises for the same URN). Tests plan cells both ways and compare
plan.json and every manifest byte for byte.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.database import UNDECLARED, undeclared
from components.program import build_stack
from tenantctl import parallel, planner
from tenantctl.mock_engine import DuplicateResource, run_program
from tenants.stacks import StackSpec

#: A cell is sliced once it has more tenants than this, into slices of at most this many.
#: The shared part is planned once more per slice (about 150 resources, under half a
#: second), and the parent merges and runs the stack rules after the last slice.
SLICE_TENANTS = 40


class SliceMismatch(RuntimeError):
    """A slice declared the cell's shared part differently: slicing would change the plan."""


@dataclass(frozen=True)
class Slice:
    """A part of a cell's program: its shared part and these tenants (none: the shared part alone)."""

    spec: StackSpec
    tenants: tuple[str, ...]


@dataclass
class SlicePlan:
    """What one slice declared and the resource rules' violations of those resources."""

    stack: str
    tenants: tuple[str, ...]
    resources: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    seconds: float


def slices(spec: StackSpec, workers: int, size: int | None = None) -> list[Slice] | None:
    """The slices to plan ``spec`` in, the shared part first; None to plan it whole.

    ``size``: :data:`SLICE_TENANTS` unless given.

    Only a cell with more than ``size`` tenants is sliced, and only with more than one
    worker (in one process, slicing only repeats the shared part). Slices are contiguous
    runs of the cell's tenants, as even as possible, as many as a multiple of ``workers``.
    """
    size = SLICE_TENANTS if size is None else size
    if spec.kind != "shared" or workers <= 1 or len(spec.tenants) <= size:
        return None
    ids = [t.id for t in spec.tenants]
    # A multiple of the workers, so that no worker idles while another plans a last slice.
    count = workers * math.ceil(math.ceil(len(ids) / size) / workers)
    bounds = [round(i * len(ids) / count) for i in range(count + 1)]
    runs = zip(bounds, bounds[1:], strict=False)
    return [Slice(spec, ())] + [Slice(spec, tuple(ids[a:b])) for a, b in runs]


def plan_slice(part: Slice, *, policies: bool = True) -> SlicePlan:
    """Run one slice's program under the mock engine and judge its resources by the resource rules."""
    started = time.perf_counter()
    spec = part.spec
    with planner.collector_tuned():
        run = run_program(lambda: build_stack(spec, only=part.tenants), project=planner.PROJECT,
                          stack=spec.name)
        resources = [planner.clean(r.as_plan()) for r in run.resources]
        del run
        violations: list[dict[str, Any]] = []
        if policies:
            from policy.engine import evaluate_resources

            violations = evaluate_resources(resources, {r["urn"] for r in resources},
                                            stack_name=spec.name, stack_kind=spec.kind,
                                            config=planner.policy_config(spec))
    return SlicePlan(spec.name, part.tenants, resources, violations, time.perf_counter() - started)


@dataclass
class Combined:
    """A cell's resources merged from its slices, before the verdicts that need all of them."""

    resources: list[dict[str, Any]]
    #: The resource rules' verdicts from the slices, on every resource but ``filled``.
    violations: list[dict[str, Any]]
    #: The shared resources the merge completed (stand-ins filled): to be judged again.
    filled: set[str]
    seconds: float


def combine(spec: StackSpec, parts: Sequence[SlicePlan]) -> Combined:
    """Merge the slices' plans (the shared part's first) into the cell's resources, sorted by URN."""
    started = time.perf_counter()
    shared, *rest = parts
    if shared.tenants:
        raise ValueError(f"{spec.name}: the first slice must be the shared part alone")
    common = {r["urn"]: r for r in shared.resources}
    merged = dict(common)
    violations = list(shared.violations)
    declared_by: dict[str, tuple[str, ...]] = {}
    for part in rest:
        seen = 0
        for resource in part.resources:
            urn = resource["urn"]
            if urn in common:
                merged[urn] = _join_shared(merged[urn], resource, part.tenants, spec.name)
                seen += 1
            elif urn in merged:
                raise DuplicateResource(f"{urn} is declared twice (by tenants {', '.join(declared_by[urn])} "
                                        f"and {', '.join(part.tenants)}); the real engine would reject it")
            else:
                merged[urn] = resource
                declared_by[urn] = part.tenants
        if seen != len(common):
            raise SliceMismatch(f"{spec.name}: the slice of tenants {', '.join(part.tenants)} lacks "
                                f"{len(common) - seen} resource(s) of the shared part")
        violations += (v for v in part.violations if v["urn"] not in common)
    for urn, resource in merged.items():
        if left := _undeclared_in(resource):
            raise SliceMismatch(f"{spec.name}: {urn} still holds {left} after merging every slice")
    filled = {urn for urn, r in common.items() if merged[urn] is not r}
    return Combined([merged[urn] for urn in sorted(merged)],
                    [v for v in violations if v["urn"] not in filled], filled,
                    sum(p.seconds for p in parts) + time.perf_counter() - started)


def judge(spec: StackSpec, combined: Combined, *, workers: int = 1) -> list[dict[str, Any]]:
    """The verdicts that need the merged cell: the completed shared resources', and the stack rules'.

    ``workers`` > 1 shares them out (:func:`judge_part`) between that many forked
    processes (when nothing else is being planned: they would only compete for the same
    cores; ``planner.plan_stacks`` runs the parts among its other work instead).
    """
    if workers <= 1:
        return judge_part(spec, combined)
    found: list[dict[str, Any]] = []
    for part in parallel.run_each(lambda k: judge_part(spec, combined, k, workers), range(workers),
                                  workers=workers, initializer=planner.worker_start):
        found += part
    return found


def judge_part(spec: StackSpec, combined: Combined, part: int = 0, parts: int = 1) -> list[dict[str, Any]]:
    """Share ``part`` of ``parts`` of :func:`judge`'s verdicts; all the parts together are all of them.

    The first share judges the shared resources the merge completed; the stack rules are
    dealt out between the shares in catalogue order (each rule judges the stack on its own).
    """
    from policy.engine import evaluate_resources, evaluate_stack_rules, stack_rule_ids

    if not 0 <= part < parts:
        raise ValueError(f"share {part} of {parts} does not exist")
    config = planner.policy_config(spec)
    resources = combined.resources
    found = (evaluate_resources(resources, combined.filled, stack_name=spec.name, stack_kind=spec.kind,
                                config=config) if part == 0 else [])
    rules = None if parts == 1 else stack_rule_ids()[part::parts]
    found += evaluate_stack_rules(resources, stack_name=spec.name, stack_kind=spec.kind, config=config,
                                  rules=rules)
    return found


def plan_of(spec: StackSpec, combined: Combined, judged: Sequence[dict[str, Any]],
            seconds: float = 0.0) -> planner.StackPlan:
    """The cell's plan: its merged resources and every verdict, as if planned whole."""
    from policy.engine import sort_violations

    return planner.StackPlan(spec.name, spec.kind, [t.id for t in spec.tenants], combined.resources,
                             sort_violations([*combined.violations, *judged]), combined.seconds + seconds,
                             planner.host_map(spec))


def merge(spec: StackSpec, parts: Sequence[SlicePlan], *, policies: bool = True,
          workers: int = 1) -> planner.StackPlan:
    """The cell's plan from its slices' plans (the shared part's first): as if planned whole."""
    combined = combine(spec, parts)
    started = time.perf_counter()
    judged = judge(spec, combined, workers=workers) if policies else []
    return plan_of(spec, combined, judged, time.perf_counter() - started)


#: The options that list other resources: a shared resource's lists are the union of
#: what each slice's tenants add to them (the proxy depends on every tenant's secret).
_DEPENDENCY_OPTIONS = ("dependsOn", "propertyDependencies")


def _join_shared(merged: dict[str, Any], version: dict[str, Any], tenants: tuple[str, ...],
                 stack: str) -> dict[str, Any]:
    """A shared resource as merged so far, completed by one more slice's version of it.

    Where the merged resource holds a stand-in for one of this slice's tenants
    (:func:`components.database.undeclared`), the slice's value replaces it; where the
    slice holds a stand-in for a tenant it does not declare, the merged value stays; its
    dependency lists are joined. Any other difference is a :class:`SliceMismatch`.
    """
    urn = merged["urn"]
    if version == merged:
        return merged
    ours = {undeclared(t) for t in tenants}

    def join(a: Any, b: Any, where: str) -> Any:
        if a == b:
            return a
        if isinstance(a, str) and a in ours and not _undeclared_in(b):
            return b
        if isinstance(b, str) and b.startswith(UNDECLARED) and b not in ours:
            return a
        if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            return {k: join(a[k], b[k], f"{where}.{k}") for k in a}
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            return [join(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True))]
        raise SliceMismatch(f"{stack}: {urn} of the shared part differs at {where} when the cell "
                            f"declares tenants {', '.join(tenants)}: {a!r} against {b!r}")

    a_options, b_options = merged["options"], version["options"]
    joined = join({**merged, "options": _without_dependencies(a_options)},
                  {**version, "options": _without_dependencies(b_options)}, "")
    a_deps, b_deps = a_options["propertyDependencies"], b_options["propertyDependencies"]
    joined["options"] = {**a_options, **joined["options"],
                         "dependsOn": sorted(set(a_options["dependsOn"]) | set(b_options["dependsOn"])),
                         "propertyDependencies": {
                             k: sorted(set(a_deps.get(k, ())) | set(b_deps.get(k, ())))
                             for k in sorted(a_deps.keys() | b_deps.keys())}}
    return joined


def _without_dependencies(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in _DEPENDENCY_OPTIONS}


def _undeclared_in(value: Any) -> str | None:
    """The first stand-in for an undeclared tenant's value within ``value``, if any."""
    if isinstance(value, str):
        return value if value.startswith(UNDECLARED) else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((found for item in items if (found := _undeclared_in(item))), None)
