"""Seeded-violation cases: a table row per way a rule can fail.

Each :class:`Case` builds the resources to evaluate (one changed resource for resource
rules, a whole baseline stack with one edit for stack rules), names the rule, and lists
the exact messages that rule must report. ``run`` evaluates through the in-process engine
(the same path ``tenantctl plan`` uses) and returns the rule's messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from policy import engine
from policy.config import host_config
from policy.engine import evaluate_stack
from tests.policy import fixtures as f

Resources = list[dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """One seeded violation."""

    id: str
    rule: str
    build: Callable[[], Resources]
    expected: tuple[str, ...]
    kind: str = "shared"
    config: Mapping[str, Any] | None = None
    #: For stack rules: the logical name of the resource the finding must point at.
    about: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate(resources: Resources, kind: str = "shared", config: Mapping[str, Any] | None = None,
             preview: bool = False) -> list[dict[str, Any]]:
    """Evaluate the pack in-process over plan resources.

    The fixture tenants' host ownership (``fixtures.HOSTS``) is configured as tenantctl
    configures the registry's; a case's own config entries replace it.
    """
    stack = "tenant-delta" if kind == "dedicated" else "shared-apne1-01"
    pack_rules = [rule for rule, _policy in engine._pack()]  # the pack a test may have swapped in
    config = {**host_config(f.HOSTS, pack_rules), **(config or {})}
    return evaluate_stack(resources, stack_name=stack, stack_kind=kind, config=config,
                          preview=preview)


def run(case: Case) -> list[dict[str, Any]]:
    """The violations of the case's rule."""
    return [v for v in evaluate(case.build(), case.kind, case.config) if v["policy"] == case.rule]


def check(case: Case) -> None:
    """Assert the rule reports exactly the expected messages (and, for stack cases, where)."""
    found = run(case)
    assert sorted(v["message"] for v in found) == sorted(case.expected), found
    if case.about is not None:
        assert {v["urn"].rsplit("::", 1)[-1] for v in found} == {case.about}, found


def one(case_id: str, rule: str, factory: Callable[[], dict[str, Any]],
        path: Sequence[str | int], value: Any, *expected: str, kind: str = "shared",
        config: Mapping[str, Any] | None = None) -> Case:
    """A resource-rule case: ``factory()`` with ``path`` set to ``value`` (or DELETEd)."""
    return Case(case_id, rule, lambda: [f.changed(factory(), path, value)], expected, kind, config)


def alone(case_id: str, rule: str, build: Callable[[], dict[str, Any]], *expected: str,
          kind: str = "shared", config: Mapping[str, Any] | None = None) -> Case:
    """A resource-rule case over a resource built from scratch."""
    return Case(case_id, rule, lambda: [build()], expected, kind, config)


def stack_edit(case_id: str, rule: str, edit: Callable[[Resources], Resources], *expected: str,
               about: str | None = None, kind: str = "shared",
               config: Mapping[str, Any] | None = None) -> Case:
    """A stack-rule case: the baseline stack of ``kind`` after ``edit``."""
    base = f.dedicated_stack if kind == "dedicated" else f.shared_stack
    return Case(case_id, rule, lambda: edit(base()), expected, kind, config, about)


def without(type_: str, name: str) -> Callable[[Resources], Resources]:
    """An edit removing one resource."""
    return lambda stack: [r for r in stack if not (r["type"] == type_ and r["name"] == name)]


def changing(type_: str, name: str, path: Sequence[str | int],
             value: Any) -> Callable[[Resources], Resources]:
    """An edit changing one resource of the stack."""
    return lambda stack: f.replace(stack, f.changed(f.find(stack, type_, name), path, value))


def adding(*built: Callable[[], dict[str, Any]]) -> Callable[[Resources], Resources]:
    """An edit adding resources."""
    return lambda stack: stack + [b() for b in built]


def params(cases: Sequence[Case]) -> Any:
    """``pytest.mark.parametrize`` over cases, with their ids."""
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return pytest.mark.parametrize("case", cases, ids=ids)
