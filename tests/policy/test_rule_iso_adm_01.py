"""ISO-ADM-01: the fixture fleet's clusters are compliant; each weakening is caught."""

from __future__ import annotations

import copy

import pytest

from policy.rule import Resource
from policy.rules.iso_adm_01 import RULE
from tests.adversarial.test_admission import MUTATIONS


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
