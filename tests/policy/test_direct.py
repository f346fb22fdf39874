"""Policies judged straight from plan dicts (policy.direct) find what the servicer's requests find."""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.protobuf import json_format
from pulumi_policy import EnforcementLevel
from pulumi_policy import policy as policy_module
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy import direct, engine
from policy.config import host_config
from policy.pack import PACK_NAME, PACK_VERSION, to_policy
from policy.rule import Finding, RuleConfig, StackRule
from tests.policy import fixtures as f
from tests.policy.cases import evaluate

LOGGING = "aws:s3/bucketLogging:BucketLogging"
PRIVILEGED = ("spec", "template", "spec", "containers", 0, "securityContext", "privileged")


def _both_ways(monkeypatch: pytest.MonkeyPatch, judge: Any) -> tuple[Any, Any]:
    found = judge()
    monkeypatch.setattr(engine, "DIRECT", False)
    through_requests = judge()
    monkeypatch.setattr(engine, "DIRECT", True)
    return found, through_requests


def _strict(value: Any) -> Any:
    """``value`` with every leaf tagged by its type, so that 5 and 5.0 compare different."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    return (type(value).__name__, value)


def _through_struct(value: dict[str, Any], preview: bool) -> Any:
    struct = engine._struct(value, preview, "x")  # noqa: SLF001 - the reference conversion
    return policy_module.deserialize_properties(json_format.MessageToDict(struct))


VALUES = [
    {"port": 5432, "replicas": 0, "ratio": 0.25, "big": 2**53 + 1, "huge": 10**30, "neg": -7},
    {"flag": True, "off": False, "none": None, "empty": {}, "list": [], "text": ""},
    {"nested": {"a": [1, {"b": (2, 3)}, [True, None, "s"]], "c": {"d": {"e": 1.5}}}},
    {"unknown": "[unknown]", "deep": [{"x": "[unknown]"}], "secret": "[secret]"},
    {"unicode": "名前", "keys": {"1": 1, "with.dot": "v", "": "empty key"}},
]


@pytest.mark.parametrize("value", VALUES)
def test_policy_values_are_what_the_struct_round_trip_gives(value: dict[str, Any]) -> None:
    """Same values and the same types (every number a float) as the Struct, key order aside."""
    assert _strict(direct.policy_value(value, True, "x")) == _strict(_through_struct(value, True))


@pytest.mark.parametrize("value", [
    {"n": math.nan}, {"n": [math.inf]}, {"a": {direct.SPECIAL_SIG_KEY: "x", "value": 1}},
    {"o": object()}, {"s": {1, 2}}, {"b": b"bytes"},
], ids=["nan", "inf", "signature", "object", "set", "bytes"])
def test_values_it_does_not_convert_are_left_to_the_struct(value: dict[str, Any]) -> None:
    with pytest.raises(direct.NeedsStruct):
        direct.policy_value(value, True, "x")


def test_unknown_in_an_update_is_an_error_on_the_direct_path_too() -> None:
    with pytest.raises(engine.UnknownInUpdate, match=r"x\.deep\[0\]\.x is unknown"):
        direct.policy_value({"deep": [{"x": "[unknown]"}]}, False, "x")
    stack = f.replace(f.shared_stack(), f.changed(f.deployment(), PRIVILEGED[:-1], "[unknown]"))
    with pytest.raises(engine.UnknownInUpdate):
        engine.evaluate_stack_rules(stack, stack_name="s", stack_kind="shared", preview=False)


def _one_case_per_rule() -> list[Any]:
    from tests.policy.test_coverage import CASES

    return list({c.rule: c for c in CASES}.values())


def test_every_rule_finds_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """A seeded hostile case of every rule and both baselines: the same violations, byte for byte."""
    inputs = [(c.build(), c.kind, c.config) for c in _one_case_per_rule()]
    inputs += [(f.shared_stack(), "shared", None), (f.dedicated_stack(), "dedicated", None)]
    found, through_requests = _both_ways(
        monkeypatch, lambda: [evaluate(r, kind, cfg) for r, kind, cfg in inputs])
    assert found == through_requests
    assert any(found), "the seeded cases find violations"


def test_unknown_value_reporting_is_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = f.shared_stack()
    logging = f.find(stack, LOGGING, "acme-files-bucket-logging")
    stack = f.replace(stack, f.changed(logging, ("bucket",), "[unknown]"))
    stack = f.replace(stack, f.changed(f.deployment(), PRIVILEGED[:-1], "[unknown]"))
    found, through_requests = _both_ways(monkeypatch, lambda: evaluate(stack, preview=True))
    assert found == through_requests
    assert any("during preview" in v["message"] for v in found)


def test_a_planned_fleet_is_judged_the_same_either_way(monkeypatch: pytest.MonkeyPatch,
                                                       fixture_fleet_plan: Any) -> None:
    """Every stack of the fixture fleet (every tier), its stack rules both ways."""
    stacks = fixture_fleet_plan.document["stacks"]

    def judge() -> list[list[dict[str, Any]]]:
        return [engine.evaluate_stack_rules(s["resources"], stack_name=s["name"], stack_kind=s["kind"],
                                            config=host_config(s["hosts"])) for s in stacks]

    found, through_requests = _both_ways(monkeypatch, judge)
    assert found == through_requests
    assert {s["kind"] for s in stacks} == {"shared", "dedicated"}


def test_links_stay_inside_the_subset_a_rule_is_given() -> None:
    """Parents and dependencies are linked only among the resources a rule reads, as in a request of them."""
    seen: list[Any] = []

    def check(resources: Any, cfg: RuleConfig) -> list[Finding]:
        seen.extend(resources)
        return [Finding("found", resources[-1].urn)]

    rule = StackRule(id="ISO-TEST-03", description="test", severity="high", tiers="NPVD", scope="all",
                     check=check)
    parent = f.resource("tenant-platform:index:FileServerStack", "acme-files", {}, custom=False)
    bucket = f.resource("aws:s3/bucket:Bucket", "acme-files-bucket", {"bucket": "b"}, parent=parent)
    child = f.resource(LOGGING, "acme-files-bucket-logging", {"bucket": "b"}, parent=parent,
                       depends_on=[parent, bucket])
    servicer = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, [to_policy(rule)], EnforcementLevel.ADVISORY)
    requests = engine._Requests([parent, bucket, child], preview=False)  # noqa: SLF001
    stack = direct.PlanResources(servicer, requests.by_urn, False, engine._options,  # noqa: SLF001
                                  requests.properties)
    response = direct.analyze_stack(servicer, to_policy(rule), [stack.prepared(r) for r in (bucket, child)])
    assert [(r.urn, r.parent, r.dependencies) for r in seen] == [
        (bucket["urn"], None, ()), (child["urn"], None, (bucket["urn"],))]
    assert [(d.policyName, d.urn) for d in response.diagnostics] == [("ISO-TEST-03", child["urn"])]
    seen.clear()
    direct.analyze_stack(servicer, to_policy(rule), [stack.prepared(r) for r in (parent, bucket, child)])
    last = seen[2]
    assert (last.urn, last.parent, sorted(last.dependencies)) == (
        child["urn"], parent["urn"], sorted([parent["urn"], bucket["urn"]]))
