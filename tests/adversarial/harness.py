"""The adversarial suite's two harnesses: one-change mutations of a saved plan, and hostile objects.

A **mutation** takes the fixture fleet's plan (``tests/fixtures/fleet``: a cell with every
shared tier, two tenants of the ``namespace`` tier, and one dedicated tenant), changes it
the way a careless one-line change would, and names the rule that must stop it and the
resource the violation must name. ``assert_check_fails`` runs ``tenantctl check`` on the
mutated plan and requires exit 1 with a mandatory line naming both.

Each test module of this package lists its mutations in a module-level ``MUTATIONS`` list
(built with :func:`mutation`), so the meta-test can show that every rule of the pack is
caught by at least one of them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy.rules import ALL
from tests.conftest import FIXTURE_FLEET, CliResult, run_cli

FLEET = FIXTURE_FLEET

#: The fixture fleet's cell stack, its dedicated stack, and tenants by tier.
CELL_STACK, DEDICATED_STACK = "shared-f1", "tenant-delta"
TENANT, OTHER = "alpha", "anvil"          # both `namespace` tier, in the cell
NODE_TENANT, VCLUSTER_TENANT, DEDICATED_TENANT = "bravo", "charlie", "delta"
ENVIRONMENT = "prod"

Resource = dict[str, Any]
Resources = list[Resource]


@dataclass(frozen=True)
class Mutation:
    """One careless change: ``apply`` edits a stack's resources and returns the culprit's name."""

    name: str
    rule: str
    apply: Callable[[Resources], str]
    stack: str = CELL_STACK


def mutation(rule: str, stack: str = CELL_STACK) -> Callable[[Callable[[Resources], str]], Mutation]:
    """Decorator: register a function as a mutation that ``rule`` must stop."""
    def wrap(fn: Callable[[Resources], str]) -> Mutation:
        return Mutation(fn.__name__, rule, fn, stack)
    return wrap


def find(resources: Resources, type_: str, name: str | None = None) -> Resource:
    """The first resource of a type (and logical name); fails the test if there is none."""
    found = [r for r in resources if r["type"] == type_ and (name is None or r["name"] == name)]
    assert found, f"no {type_} {name or ''} in the plan"
    return found[0]


def find_all(resources: Resources, type_: str) -> Resources:
    """Every resource of a type."""
    return [r for r in resources if r["type"] == type_]


def add(resources: Resources, like: Resource, type_: str, name: str, inputs: dict[str, Any]) -> str:
    """Append a new resource next to ``like`` (same stack, parent and provider); return its name."""
    new = copy.deepcopy(like)
    prefix = like["urn"].rsplit("::", 2)[0]
    new.update(type=type_, name=name, urn=f"{prefix}::{type_}::{name}", inputs=inputs)
    resources.append(new)
    return name


def policy_document(resource: Resource, key: str = "policy") -> dict[str, Any]:
    """A JSON policy input, parsed."""
    value = resource["inputs"][key]
    return json.loads(value) if isinstance(value, str) else value


def set_policy_document(resource: Resource, document: dict[str, Any], key: str = "policy") -> None:
    """Write a policy input back as the JSON string the provider takes."""
    resource["inputs"][key] = json.dumps(document)


def run_check(document: dict[str, Any], tmp_path: Path) -> CliResult:
    """``tenantctl check`` over a plan document written to ``tmp_path``."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    return run_cli("check", "--plan", str(path))


def mutated(plan: dict[str, Any], m: Mutation) -> tuple[dict[str, Any], str]:
    """The plan with one mutation applied, holding only the mutated stack; and the culprit's name.

    The other stacks are unchanged and already pass (test_meta checks the whole plan), so the
    gate is run over the stack the mutation touches only.
    """
    stack = copy.deepcopy(next(s for s in plan["stacks"] if s["name"] == m.stack))
    culprit = m.apply(stack["resources"])
    return {**plan, "stacks": [stack]}, culprit


def violation_lines(result: CliResult, rule: str, enforcement: str = "mandatory") -> list[str]:
    """The check's violation lines of one rule at one enforcement level."""
    return [line for line in result.out.splitlines()
            if f"[{enforcement}]" in line and f" {rule} " in line]


def default_enforcement(rule_id: str) -> str:
    """The rule's enforcement level when the pack runs with its defaults."""
    return next(r for r in ALL if r.id == rule_id).default_enforcement


def assert_check_fails(plan: dict[str, Any], m: Mutation, tmp_path: Path) -> None:
    """The gate reports the mutation under its rule, naming the culprit resource.

    A mandatory rule must fail the check with exit 1; an advisory one (medium and low
    severities by default) must report it as advisory.
    """
    document, culprit = mutated(plan, m)
    result = run_check(document, tmp_path)
    enforcement = default_enforcement(m.rule)
    if enforcement == "mandatory":
        assert result.code == 1, f"{m.name}: exit {result.code}\n{result.out[-2000:]}"
    lines = violation_lines(result, m.rule, enforcement)
    assert lines, f"{m.name}: {m.rule} not reported as {enforcement}:\n{result.out[-3000:]}"
    assert any(culprit in line for line in lines), f"{m.name}: {culprit} not named in {lines}"
