"""Meta-tests of the adversarial suite: the clean plan passes, and every rule catches a mutation."""

from __future__ import annotations

import importlib
import pkgutil

import tests.adversarial as suite
from policy.rules import ALL
from tests.adversarial.harness import Mutation, run_check


def all_mutations() -> list[Mutation]:
    """Every ``MUTATIONS`` entry of the suite's test modules."""
    found: list[Mutation] = []
    for info in pkgutil.iter_modules(suite.__path__):
        if info.name.startswith("test_"):
            module = importlib.import_module(f"{suite.__name__}.{info.name}")
            found += getattr(module, "MUTATIONS", [])
    return found


def test_the_unmodified_fleet_plan_passes_the_gate(fleet_plan, tmp_path):
    result = run_check(fleet_plan, tmp_path)
    assert result.code == 0, result.out[-3000:]


def test_mutation_names_are_unique():
    names = [m.name for m in all_mutations()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_rule_is_caught_by_at_least_one_mutation():
    caught = {m.rule for m in all_mutations()}
    missing = sorted(rule.id for rule in ALL if rule.id not in caught)
    assert not missing, f"rules no mutation of tests/adversarial reaches: {missing}"
