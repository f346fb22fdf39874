"""The offline plan: the real program for every selected stack under the mock engine.

No cloud and no Pulumi CLI: each stack is built by ``components.program.build_stack``
under a recording monitor, the policy pack is evaluated in-process over what it declared,
and the result is written as ``plan.json`` plus one manifest per Kubernetes object.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.program import build_stack
from tenantctl import manifests, mock_outputs, parallel, preload
from tenantctl.mock_engine import after_fork, run_program
from tenants.stacks import StackSpec

#: Version of the plan.json format. Bump it whenever its shape changes.
#: 2: a top-level ``mock`` object says which values the mock engine invented.
#:    Every stack carries ``hosts`` (tenant id -> the host names the registry gives it),
#:    which ``check`` passes to the host-ownership rules exactly as ``plan`` did.
PLAN_VERSION = 2
#: Versions ``read_plan`` still reads (their shapes are a subset of this version's).
READABLE_VERSIONS = (1, 2)
PROJECT = "tenant-platform"
_DYNAMIC_PROVIDER_KEY = "__provider"


class PlanFormatError(ValueError):
    """A plan.json that this version of tenantctl cannot read."""


@dataclass
class StackPlan:
    """One stack's planned resources and the violations the policy pack found."""

    name: str
    kind: str
    tenants: list[str]
    resources: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    seconds: float = 0.0
    #: Tenant id -> its host names (``policy.config.host_ownership``).
    hosts: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The stack's entry in plan.json."""
        return {"name": self.name, "kind": self.kind, "tenants": self.tenants,
                "hosts": self.hosts, "resources": self.resources, "violations": self.violations}


def clean(resource: dict[str, Any]) -> dict[str, Any]:
    """Drop the pickled dynamic-provider blob: it is code, not configuration."""
    inputs = resource["inputs"]
    if _DYNAMIC_PROVIDER_KEY in inputs:
        resource["inputs"] = {**inputs, _DYNAMIC_PROVIDER_KEY: "[dynamic provider]"}
    return resource


def evaluate(resources: list[dict[str, Any]], name: str, kind: str,
             hosts: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """Run the policy pack in-process over one stack's resources.

    ``hosts``: the stack's tenants' host names, for the rules that judge host ownership.
    """
    from policy.config import host_config  # imported late: the pack is heavy to load
    from policy.engine import evaluate_stack

    return evaluate_stack(resources, stack_name=name, stack_kind=kind, config=host_config(hosts))


def host_map(spec: StackSpec) -> dict[str, list[str]]:
    """The stack's tenants' host names, as plan.json records them for ``check``."""
    from policy.config import host_ownership

    return host_ownership(spec.tenants)


def policy_config(spec: StackSpec) -> dict[str, dict[str, Any]]:
    """The policy pack config a stack is judged with (its tenants' hosts)."""
    from policy.config import host_config

    return host_config(host_map(spec))


def plan_stack(spec: StackSpec, *, policies: bool = True) -> StackPlan:
    """Build one stack under the mock engine and evaluate the policy pack over it."""
    started = time.perf_counter()
    with collector_tuned():
        run = run_program(lambda: build_stack(spec), project=PROJECT, stack=spec.name)
        resources = [clean(r.as_plan()) for r in run.resources]
        del run
        hosts = host_map(spec)
        violations = evaluate(resources, spec.name, spec.kind, hosts) if policies else []
    return StackPlan(spec.name, spec.kind, [t.id for t in spec.tenants], resources, violations,
                     time.perf_counter() - started, hosts)


#: Generation-0 threshold while a stack is planned (CPython's default is 700). A plan
#: allocates millions of short-lived container objects (futures, dicts, protobuf
#: wrappers); at the default, a 6,375-resource fleet ran 5,827 young collections and 23
#: full ones, each of those re-scanning every long-lived object of the process.
GC_THRESHOLD = 50_000


class collector_tuned:  # noqa: N801 - used as a context manager, like contextlib's
    """Plan with the cyclic garbage collector tuned for a short batch job.

    On entry, everything alive (the loaded registry, the SDK and the policy pack, earlier
    stacks' plans) is frozen: the collector never scans it again. Collections during
    the stack are rarer; on exit, one collection frees the stack's own cycles (Pulumi's
    futures and tasks refer to each other) before the thresholds are restored. Results
    are unaffected: only when unreachable cycles are freed changes.
    """

    def __enter__(self) -> None:
        self.saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, self.saved[1], self.saved[2])

    def __exit__(self, *_exc: object) -> None:
        if gc.isenabled():  # a worker (which exits next) does not collect: worker_start
            gc.collect()
        gc.unfreeze()
        gc.set_threshold(*self.saved)


def worker_start() -> None:
    """Start a forked planning worker: its own event loop, and no cyclic garbage collector.

    A worker lives for one unit of work (a stack, a slice of a cell, a cell's verdicts or
    a share of its stack rules) and exits with ``os._exit``. Collecting cycles there only
    frees memory the exit frees anyway (the Pulumi runtime's futures and tasks are most
    of the cycles, a few hundred MB at most for the largest unit: slices bound it); it
    cost about a tenth of a worker's CPU, and each collection wrote to the header of
    every inherited object it scanned, copying the parent's pages into the worker. The
    parent keeps its collector.
    """
    after_fork()
    gc.disable()


def plan_stacks(specs: Sequence[StackSpec], *, policies: bool = True,
                progress: Callable[[int, int, StackPlan], None] | None = None,
                workers: int = 1) -> list[StackPlan]:
    """Plan each stack, reporting progress after each; the plans in the order of ``specs``.

    ``workers`` > 1 plans stacks in that many forked worker processes at once (one
    process per stack, so memory is bounded by the largest stacks and the Pulumi
    runtime's process-wide state starts fresh each time), and a large cell in slices of
    its tenants (``tenantctl.cell_slices``), merged here as its last slice comes in and
    judged in ``workers`` shares that run next, among the stacks still being planned (not
    all at the end, where the last cell's verdicts would keep one core waiting for the
    other); the plans are the same as planned whole in this process. Progress then reports
    stacks in the order they finish.
    """
    from tenantctl import cell_slices

    # (stack index, part number, what to plan): a whole stack, or a cell's slices.
    units: list[tuple[int, int, StackSpec | cell_slices.Slice]] = []
    for index, spec in enumerate(specs):
        parts = cell_slices.slices(spec, workers)
        units += [(index, 0, spec)] if parts is None else [(index, n, p) for n, p in enumerate(parts)]
    if workers <= 1 or len(units) <= 1:
        plans = []
        for index, spec in enumerate(specs, start=1):
            plan = plan_stack(spec, policies=policies)
            plans.append(plan)
            if progress is not None:
                progress(index, len(specs), plan)
        return plans
    if policies:
        from policy.engine import load_pack

        load_pack()  # once here, not once per worker: the children inherit it
    preload.preload()  # the provider modules too: each worker would load them again
    pending = Counter(index for index, _, _ in units)
    parts_of: dict[int, dict[int, Any]] = {}
    done: dict[int, StackPlan] = {}
    # A sliced cell, merged once its last slice is in, while its verdicts are found.
    combined: dict[int, cell_slices.Combined] = {}
    verdicts: dict[int, list[dict[str, Any]]] = {}
    shares_left: Counter[int] = Counter()
    judged_in: dict[int, float] = {}

    def work(unit: tuple[str, int, int, Any]) -> tuple[str, int, int, Any]:
        kind, index, number, item = unit
        if kind == "judge":
            started = time.perf_counter()
            found = cell_slices.judge_part(specs[index], combined[index], number, item)
            return kind, index, number, (found, time.perf_counter() - started)
        if isinstance(item, cell_slices.Slice):
            return kind, index, number, cell_slices.plan_slice(item, policies=policies)
        return kind, index, number, plan_stack(item, policies=policies)

    def report(index: int, plan: StackPlan) -> None:
        done[index] = plan
        if progress is not None:
            progress(len(done), len(specs), plan)

    def cell_done(index: int) -> None:
        report(index, cell_slices.plan_of(specs[index], combined.pop(index), verdicts.pop(index),
                                          judged_in.pop(index, 0.0)))

    def arrived(answer: tuple[str, int, int, Any]) -> list[tuple[str, int, int, Any]]:
        """Keep a result; a cell's last slice merges it and returns its shares of judging to run next."""
        kind, index, number, result = answer
        if kind == "judge":
            found, seconds = result
            verdicts[index] += found
            judged_in[index] = judged_in.get(index, 0.0) + seconds
            shares_left[index] -= 1
            if not shares_left[index]:
                cell_done(index)
            return []
        parts_of.setdefault(index, {})[number] = result
        pending[index] -= 1
        if pending[index]:
            return []
        if isinstance(result, StackPlan):
            parts_of.pop(index)
            report(index, result)
            return []
        # The parent merges (dropping the parts: it holds each resource once); the shares of
        # judging are forked from it, so they read the merged cell without a copy sent.
        planned = [part for _, part in sorted(parts_of.pop(index).items())]
        combined[index] = cell_slices.combine(specs[index], planned)
        verdicts[index] = []
        if not policies:
            cell_done(index)
            return []
        shares_left[index] = workers
        return [("judge", index, share, workers) for share in range(workers)]

    parallel.run_each(work, [("plan", *unit) for unit in units], workers=workers,
                      cost=lambda unit: _unit_cost(unit[1:]), more=arrived, initializer=worker_start)
    return [done[i] for i in range(len(specs))]


def _unit_cost(unit: tuple[int, int, Any]) -> int:
    """A whole stack's cost (:func:`_stack_cost`), or a slice's: its tenants and the shared part."""
    item = unit[2]
    return _stack_cost(item) if isinstance(item, StackSpec) else len(item.tenants) + 1


def cpu_count() -> int:
    """The CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_workers(stacks: int) -> int:
    """Worker processes for ``stacks`` independent jobs: one per CPU, never more than jobs."""
    return max(1, min(cpu_count(), stacks))


def plan_workers(specs: Sequence[StackSpec]) -> int:
    """Worker processes for planning ``specs``: one per CPU, never more than there are parts.

    A large cell counts as its slices (``tenantctl.cell_slices``), so that planning one
    cell (``plan --tenant ID``) still uses every CPU.
    """
    from tenantctl import cell_slices

    cpus = cpu_count()
    return default_workers(sum(len(cell_slices.slices(spec, cpus) or [spec]) for spec in specs))


def _stack_cost(spec: StackSpec) -> int:
    """A stack's relative planning time, to start the longest first.

    A dedicated stack holds about as many resources as two shared-tier tenants.
    """
    return len(spec.tenants) + (2 if spec.kind == "dedicated" else 0)


#: Resources per manifest-writing job: a stack's objects go to files of their own names, so
#: parts of one stack can be written by several processes (a name collision still fails).
WRITE_CHUNK = 2_000


def write_jobs(plans: Sequence[StackPlan]) -> int:
    """How many pieces :func:`write_plan` splits the manifests into (at most that many workers help)."""
    return sum(-(-len(p.resources) // WRITE_CHUNK) for p in plans)


def write_plan(plans: Sequence[StackPlan], out: Path, *, workers: int = 1,
               with_manifests: bool = True) -> Path:
    """Write ``out/plan.json`` and ``out/manifests/<stack>/...``; return the plan path.

    The output directory's previous ``manifests/`` is replaced so that files of objects no
    longer planned do not linger and mislead. ``workers`` > 1 writes the stacks' manifests
    in that many forked processes (a large fleet has tens of thousands; each stack has its
    own directory, so the files are the same). ``with_manifests=False`` writes plan.json
    alone (and still removes the old manifests: they would not be of this plan).
    """
    out.mkdir(parents=True, exist_ok=True)
    manifest_root = out / "manifests"
    if manifest_root.exists():
        shutil.rmtree(manifest_root)

    def write(chunk: tuple[StackPlan, int]) -> int:
        plan, start = chunk
        return manifests.write_manifests(plan.resources[start:start + WRITE_CHUNK], manifest_root / plan.name)

    path = out / "plan.json"

    def write_document() -> int:
        tmp = path.with_suffix(".json.tmp")
        with tmp.open("w", encoding="utf-8") as stream:
            stream.writelines(plan_lines(plan_document(plans)))
        tmp.replace(path)
        return 0

    # In chunks, so that one large stack (a full cell) is written by every worker too.
    chunks = [(plan, start) for plan in plans for start in range(0, len(plan.resources), WRITE_CHUNK)] \
        if with_manifests else []
    if workers > 1 and len(chunks) > 1:
        # plan.json is one more piece of the work, written by a worker beside the manifests
        # (not after them by this process, with the workers done and a core idle).
        everything = sum(len(plan.resources) for plan in plans)

        def size(chunk: tuple[StackPlan, int] | None) -> int:
            return everything if chunk is None else len(chunk[0].resources[chunk[1]:chunk[1] + WRITE_CHUNK])

        parallel.run_each(lambda c: write_document() if c is None else write(c), [*chunks, None],
                          workers=workers, cost=size)
    else:
        for chunk in chunks:
            write(chunk)
        write_document()
    return path


def plan_lines(document: dict[str, Any]) -> Iterator[str]:
    """plan.json's text: indented down to the stacks' fields, then a line per resource.

    Violations get a line each too. Still one JSON document, and a diff of two plans shows
    changed resources line by line; encoding each resource on one line uses the C encoder,
    where ``indent`` falls back to pure Python (about ten times slower: seconds on a large
    fleet).
    """
    head = {k: v for k, v in document.items() if k != "stacks"}
    yield "{\n"
    for key, value in head.items():
        yield f" {json.dumps(key)}: {json.dumps(value)},\n"
    yield ' "stacks": ['
    for i, stack in enumerate(document["stacks"]):
        yield ("," if i else "") + "\n  {"
        for j, (key, value) in enumerate(stack.items()):
            yield ("," if j else "") + f"\n   {json.dumps(key)}: "
            if key in ("resources", "violations") and value:
                yield "[\n    " + ",\n    ".join(map(json.dumps, value)) + "\n   ]"
            else:
                yield json.dumps(value)
        yield "\n  }"
    yield "\n ]\n}\n"


def plan_document(plans: Sequence[StackPlan]) -> dict[str, Any]:
    """The plan.json document of planned stacks."""
    return {"version": PLAN_VERSION, "mock": mock_outputs.INVENTED,
            "stacks": [p.as_json() for p in plans]}


def read_plan(path: Path) -> list[StackPlan]:
    """Load a saved plan.json, checking its version and shape."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanFormatError(f"{path}: cannot read plan: {exc}") from None
    return plans_in(document, path)


def plans_in(document: Any, path: Path, *, may_be_empty: bool = False) -> list[StackPlan]:
    """The stacks of a parsed plan.json document (read from ``path``), checking version and shape.

    ``may_be_empty``: a plan of no stacks is valid (a shard that holds none); otherwise it is
    an error, since checking it would check nothing.
    """
    if not isinstance(document, dict) or document.get("version") not in READABLE_VERSIONS:
        found = document.get("version") if isinstance(document, dict) else None
        raise PlanFormatError(f"{path}: plan version {found!r} is not supported "
                              f"(this tenantctl reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    stacks = document.get("stacks")
    if not isinstance(stacks, list):
        raise PlanFormatError(f"{path}: 'stacks' must be a list")
    if not stacks and not may_be_empty:
        raise PlanFormatError(f"{path}: the plan has no stacks: nothing to check "
                              "(was it written by `tenantctl plan` with a selection that matched nothing?)")
    plans = []
    for i, stack in enumerate(stacks):
        try:
            resources = stack["resources"]
            if not isinstance(resources, list) or not all(
                    isinstance(r, dict) and {"urn", "type", "inputs"} <= r.keys() for r in resources):
                raise TypeError("resources must be objects with urn, type and inputs")
            # Plans older than the hosts field carry none: the host-ownership rules then
            # see no tenant owning any host and fail closed (re-run `tenantctl plan`).
            hosts = stack.get("hosts", {})
            if not isinstance(hosts, dict) or not all(
                    isinstance(h, list) and all(isinstance(x, str) for x in h) for h in hosts.values()):
                raise TypeError("hosts must map tenant ids to lists of host names")
            plans.append(StackPlan(str(stack["name"]), str(stack["kind"]),
                                   list(stack.get("tenants", [])), resources,
                                   list(stack.get("violations", [])), hosts=hosts))
        except (KeyError, TypeError) as exc:
            raise PlanFormatError(f"{path}: stacks[{i}] is malformed: {exc}") from None
    return plans


def resource_counts(plans: Sequence[StackPlan]) -> Counter[str]:
    """Resources by type token across the given stacks."""
    return Counter(r["type"] for p in plans for r in p.resources)
