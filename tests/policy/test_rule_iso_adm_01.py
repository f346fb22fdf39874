"""ISO-ADM-01: the fixture fleet's clusters are compliant; each weakening is caught."""

from __future__ import annotations

import copy

import pytest

from components.admission import POLICY_NAMES
from policy.rule import Resource
from policy.rules import iso_adm_01 as adm
from policy.rules.iso_adm_01 import RULE
from tests.adversarial.harness import CELL_STACK, DEDICATED_STACK, Mutation
from tests.adversarial.test_admission import MUTATIONS
from tests.conftest import fixture_fleet_planned
from tests.policy.cases import Case, check

#: The messages each weakening must produce (the coverage test counts them as seeded). The
#: deployer exemption is one shared expression of every policy: widening it changes all.
EXPECTED = {
    "binding_dropped": (adm.MSG_MISSING,),
    "binding_warns_only": (adm.MSG_BINDING,),
    "failure_policy_ignore": (adm.MSG_WEAKENED,),
    "namespace_selector_narrowed": (adm.MSG_BINDING,),
    "validation_made_true": (adm.MSG_WEAKENED,),
    "deployer_exemption_for_everyone": (adm.MSG_DEPLOYER,) + (adm.MSG_WEAKENED,) * len(POLICY_NAMES),
    "policy_removed_from_dedicated_cluster": (adm.MSG_MISSING,),
}


def _stack(name: str) -> list[dict]:
    """A copy of one stack of the fixture fleet's clean plan."""
    document = fixture_fleet_planned().document
    return copy.deepcopy(next(s for s in document["stacks"] if s["name"] == name))["resources"]


def _mutated(m: Mutation) -> list[dict]:
    resources = _stack(m.stack)
    m.apply(resources)
    return resources


def _duplicated() -> list[dict]:
    resources = _stack(CELL_STACK)
    policy = next(r for r in resources if r["type"].endswith(":ValidatingAdmissionPolicy"))
    copied = {**copy.deepcopy(policy), "urn": policy["urn"] + "-copy", "name": policy["name"] + "-copy"}
    return [*resources, copied]


_BY_NAME = {m.name: m for m in MUTATIONS}
CASES = [Case(f"adm-{name}", RULE.id, lambda m=_BY_NAME[name]: _mutated(m), messages,
              kind="dedicated" if _BY_NAME[name].stack == DEDICATED_STACK else "shared")
         for name, messages in EXPECTED.items()]
CASES.append(Case("adm-duplicate-policy", RULE.id, _duplicated, (adm.MSG_DUPLICATE,)))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_seeded_weakenings_report_their_message(case):
    check(case)


def test_every_mutation_has_its_expected_message():
    assert set(EXPECTED) == set(_BY_NAME)


def _findings(stack):
    return RULE.evaluate([Resource(type=r["type"], props=r["inputs"], urn=r["urn"], name=r["name"])
                          for r in stack["resources"]])


@pytest.fixture(scope="module")
def document(fixture_fleet_plan):
    assert fixture_fleet_plan.result.code == 0, fixture_fleet_plan.result.out[-2000:]
    return fixture_fleet_plan.document


def test_every_cluster_of_the_fixture_fleet_is_compliant(document):
    assert len(document["stacks"]) == 2
    for stack in document["stacks"]:
        assert _findings(stack) == []


def test_a_stack_without_a_cluster_needs_no_admission():
    assert RULE.evaluate([Resource(type="aws:s3/bucket:Bucket", props={}, urn="u")]) == []


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_each_weakening_is_a_finding_on_the_culprit(document, m):
    doc = copy.deepcopy(document)
    stack = next(s for s in doc["stacks"] if s["name"] == m.stack)
    culprit = m.apply(stack["resources"])
    findings = _findings(stack)
    assert any((f.urn or "").endswith(f"::{culprit}") for f in findings), findings
