"""The offline plan: the real program for every selected stack under the mock engine.

No cloud and no Pulumi CLI: each stack is built by ``components.program.build_stack``
under a recording monitor, the policy pack is evaluated in-process over what it declared,
and the result is written as ``plan.json`` plus one manifest per Kubernetes object.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.program import build_stack
from tenantctl import manifests, mock_outputs
from tenantctl.mock_engine import run_program
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


def _clean(resource: dict[str, Any]) -> dict[str, Any]:
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


def plan_stack(spec: StackSpec, *, policies: bool = True) -> StackPlan:
    """Build one stack under the mock engine and evaluate the policy pack over it."""
    started = time.perf_counter()
    run = run_program(lambda: build_stack(spec), project=PROJECT, stack=spec.name)
    from policy.config import host_ownership

    resources = [_clean(r.as_plan()) for r in run.resources]
    hosts = host_ownership(spec.tenants)
    violations = evaluate(resources, spec.name, spec.kind, hosts) if policies else []
    return StackPlan(spec.name, spec.kind, [t.id for t in spec.tenants], resources, violations,
                     time.perf_counter() - started, hosts)


def plan_stacks(specs: Sequence[StackSpec], *, policies: bool = True,
                progress: Callable[[int, int, StackPlan], None] | None = None) -> list[StackPlan]:
    """Plan each stack in turn, reporting progress after each."""
    plans = []
    for index, spec in enumerate(specs, start=1):
        plan = plan_stack(spec, policies=policies)
        plans.append(plan)
        if progress is not None:
            progress(index, len(specs), plan)
    return plans


def write_plan(plans: Sequence[StackPlan], out: Path) -> Path:
    """Write ``out/plan.json`` and ``out/manifests/<stack>/...``; return the plan path.

    The output directory's previous ``manifests/`` is replaced so that files of objects no
    longer planned do not linger and mislead.
    """
    out.mkdir(parents=True, exist_ok=True)
    manifest_root = out / "manifests"
    if manifest_root.exists():
        shutil.rmtree(manifest_root)
    for plan in plans:
        manifests.write_manifests(plan.resources, manifest_root / plan.name)
    path = out / "plan.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(plan_document(plans), indent=1, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path


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
    if not isinstance(document, dict) or document.get("version") not in READABLE_VERSIONS:
        found = document.get("version") if isinstance(document, dict) else None
        raise PlanFormatError(f"{path}: plan version {found!r} is not supported "
                              f"(this tenantctl reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    stacks = document.get("stacks")
    if not isinstance(stacks, list):
        raise PlanFormatError(f"{path}: 'stacks' must be a list")
    if not stacks:
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
