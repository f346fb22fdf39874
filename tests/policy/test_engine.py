"""The in-process engine behaves like the Pulumi engine talking to the pack."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy import engine
from policy.config import PolicyConfigError, reconcile
from policy.pack import PACK_NAME, PACK_VERSION, to_policy
from policy.rule import Finding, Resource, RuleConfig, StackRule
from policy.rules import iso_data_05, iso_ns_02, iso_pod_01
from tests.policy import fixtures as f
from tests.policy.cases import evaluate

PRIVILEGED = ("spec", "template", "spec", "containers", 0, "securityContext", "privileged")
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
LOGGING = "aws:s3/bucketLogging:BucketLogging"


def _of(violations: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [v for v in violations if v["policy"] == rule]


def test_violation_has_the_documented_shape() -> None:
    found = evaluate([f.changed(f.deployment(), PRIVILEGED, True)])
    assert _of(found, "ISO-POD-01") == [{
        "policy": "ISO-POD-01", "severity": "critical", "enforcement": "mandatory",
        "urn": f.deployment()["urn"], "message": iso_pod_01.MSG_PRIVILEGED}]


@pytest.mark.parametrize(("rule", "path", "severity", "enforcement"), [
    ("ISO-POD-01", PRIVILEGED, "critical", "mandatory"),
    ("ISO-POD-06", PRIVILEGED[:-1] + ("allowPrivilegeEscalation",), "high", "mandatory"),
    ("ISO-POD-11", PRIVILEGED[:-1] + ("readOnlyRootFilesystem",), "medium", "advisory"),
], ids=["critical", "high", "medium"])
def test_enforcement_follows_severity(rule: str, path: tuple[Any, ...], severity: str,
                                     enforcement: str) -> None:
    value = True if rule == "ISO-POD-01" else f.DELETE
    found = _of(evaluate([f.changed(f.deployment(), path, value)]), rule)
    assert [(v["severity"], v["enforcement"]) for v in found] == [(severity, enforcement)]


def test_low_severity_is_advisory() -> None:
    found = _of(evaluate([f.workload("Pod")]), "ISO-POD-14")
    assert [(v["severity"], v["enforcement"]) for v in found] == [("low", "advisory")]


def test_dedicated_stacks_lower_namespace_and_network_rules_one_level() -> None:
    ns = f.changed(f.namespace("delta"), ("metadata", "labels", "pod-security.kubernetes.io/warn"), f.DELETE)
    found = _of(evaluate([ns], kind="dedicated"), "ISO-NS-02")
    assert [(v["severity"], v["enforcement"], v["message"]) for v in found] == [
        ("medium", "advisory", iso_ns_02.MSG_WARN)]
    shared = f.changed(f.namespace("acme"), ("metadata", "labels", "pod-security.kubernetes.io/warn"),
                       f.DELETE)
    assert [(v["severity"], v["enforcement"]) for v in _of(evaluate([shared]), "ISO-NS-02")] == [
        ("high", "mandatory")]


def test_dedicated_stacks_keep_identity_and_data_levels() -> None:
    role = f.changed(f.tenant_role("delta"), ("assumeRolePolicy",), f.doc(
        {"Effect": "Allow", "Principal": {"Federated": f.OIDC_ARN},
         "Action": "sts:AssumeRoleWithWebIdentity"}))
    found = _of(evaluate([role], kind="dedicated"), "ISO-IAM-01")
    assert {(v["severity"], v["enforcement"]) for v in found} == {("critical", "mandatory")}


def test_rules_outside_the_stacks_tiers_do_not_run() -> None:
    stack = [r for r in f.dedicated_stack() if r["name"] != "delta-quota"]
    assert _of(evaluate(stack, kind="dedicated"), "ISO-NS-03") == []


def test_config_turns_a_rule_on_for_another_tier() -> None:
    stack = [r for r in f.dedicated_stack() if r["name"] != "delta-quota"]
    config = {"ISO-NS-03": {"enforcementLevel": "mandatory", "tiers": ["D"]}}
    found = _of(evaluate(stack, kind="dedicated", config=config), "ISO-NS-03")
    assert [(v["enforcement"], v["urn"].rsplit("::", 1)[-1]) for v in found] == [
        ("mandatory", "delta-namespace")]


def test_config_disables_a_rule() -> None:
    bad = [f.changed(f.deployment(), PRIVILEGED, True)]
    assert _of(evaluate(bad, config={"ISO-POD-01": "disabled"}), "ISO-POD-01") == []


def test_config_all_sets_every_level_and_rules_override_it() -> None:
    bad = [f.changed(f.deployment(), PRIVILEGED[:-1], {})]
    found = evaluate(bad, config={"all": "advisory", "ISO-POD-06": "mandatory"})
    assert {v["policy"] for v in found if v["enforcement"] == "mandatory"} == {"ISO-POD-06"}
    assert {v["enforcement"] for v in found if v["policy"] != "ISO-POD-06"} == {"advisory"}


def test_config_options_reach_the_rule() -> None:
    dep = f.changed(f.deployment(), ("spec", "template", "spec", "priorityClassName"), "batch-low")
    assert len(_of(evaluate([dep]), "ISO-POD-12")) == 1
    config = {"ISO-POD-12": {"allowedPriorityClasses": ["batch-low"]}}
    assert _of(evaluate([dep], config=config), "ISO-POD-12") == []


@pytest.mark.parametrize(("config", "error"), [
    ({"ISO-NOPE-01": "advisory"}, "ISO-NOPE-01: no such rule"),
    ({"ISO-POD-01": "blocking"}, "enforcement level 'blocking'"),
    ({"ISO-POD-01": {"tiers": ["X"]}}, "ISO-POD-01.tiers[0]: 'X' is not one of"),
    ({"ISO-POD-12": {"allowedPriorityClasses": "a"}}, "is not of type array"),
    ({"ISO-POD-01": {"colour": "red"}}, "unknown property 'colour'"),
    ({"all": {"tiers": ["N"]}}, "only an enforcement level"),
], ids=["unknown-rule", "bad-level", "bad-tier", "bad-option-type", "unknown-option", "all-props"])
def test_invalid_config_is_refused(config: dict[str, Any], error: str) -> None:
    with pytest.raises(PolicyConfigError, match=error.replace("[", r"\[").replace("]", r"\]")):
        evaluate([f.deployment()], config=config)


def test_unknown_values_in_preview_are_advisory_cannot_decide() -> None:
    dep = f.changed(f.deployment(), PRIVILEGED[:-1], "[unknown]")
    found = _of(evaluate([dep], preview=True), "ISO-POD-01")
    assert found == [{
        "policy": "ISO-POD-01", "severity": "critical", "enforcement": "advisory", "urn": dep["urn"],
        "message": f"can't run policy 'ISO-POD-01' from policy pack '{PACK_NAME}@v{PACK_VERSION}' "
                   "during preview: string value at .spec.template.spec.containers.0.securityContext "
                   "can't be known during preview"}]


def test_unknown_values_the_rules_do_not_read_change_nothing() -> None:
    dep = f.changed(f.deployment(), ("metadata", "annotations"), {"checksum": "[unknown]"})
    assert [v for v in evaluate([dep], preview=True) if v["policy"].startswith("ISO-POD")] == []


def test_unknown_values_outside_a_preview_are_an_error() -> None:
    dep = f.changed(f.deployment(), PRIVILEGED[:-1], "[unknown]")
    with pytest.raises(engine.UnknownInUpdate, match=r"securityContext is unknown"):
        evaluate([dep], preview=False)


def test_stack_rules_link_by_dependencies_when_names_are_unknown() -> None:
    stack = f.shared_stack()
    pab = f.find(stack, PAB, "acme-files-bucket-pab")
    stack = f.replace(stack, f.changed(pab, ("bucket",), "[unknown]"))
    assert _of(evaluate(stack, preview=True), "ISO-DATA-05") == []


def test_stack_rule_that_must_read_an_unknown_link_cannot_decide() -> None:
    stack = f.shared_stack()
    logging = f.find(stack, LOGGING, "acme-files-bucket-logging")
    stack = f.replace(stack, f.changed(f.changed(logging, ("bucket",), "[unknown]"),
                                       ("targetBucket",), "[unknown]"))
    found = _of(evaluate(stack, preview=True), "ISO-DATA-05")
    assert [(v["enforcement"], v["urn"]) for v in found] == [("advisory", None)]
    assert found[0]["message"].startswith("can't run policy 'ISO-DATA-05'")


def test_property_dependencies_from_the_engine_resolve_links() -> None:
    stack = f.shared_stack()
    logging = f.find(stack, LOGGING, "acme-files-bucket-logging")
    files, logs = (f.find(stack, "aws:s3/bucket:Bucket", n)["urn"]
                   for n in ("acme-files-bucket", "acme-logs-bucket"))
    logging = f.changed(f.changed(logging, ("bucket",), "[unknown]"), ("targetBucket",), "[unknown]")
    logging["options"]["propertyDependencies"] = {"bucket": [files], "targetBucket": [logs]}
    assert _of(evaluate(f.replace(stack, logging), preview=True), "ISO-DATA-05") == []


def test_stack_findings_name_the_resource() -> None:
    stack = [r for r in f.shared_stack() if r["name"] != "acme-files-bucket-pab"]
    found = _of(evaluate(stack), "ISO-DATA-05")
    assert [(v["urn"], v["message"]) for v in found] == [
        (f.bucket("acme", "files")["urn"], iso_data_05.MSG_PUBLIC_ACCESS_BLOCK)]


def test_results_are_sorted_and_independent_of_resource_order() -> None:
    stack = [f.changed(f.deployment(), PRIVILEGED[:-1], {})] + f.shared_stack()[1:]
    first = evaluate(stack)
    shuffled = stack[:]
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a fixed, reproducible order
    assert evaluate(shuffled) == first
    assert first == sorted(first, key=lambda v: (v["urn"] or "", v["policy"], v["message"]))


def test_mandatory_keeps_only_blocking_violations() -> None:
    found = evaluate([f.changed(f.deployment(), PRIVILEGED[:-1], {})])
    assert engine.mandatory(found) == [v for v in found if v["enforcement"] == "mandatory"]
    assert {v["enforcement"] for v in found} == {"mandatory", "advisory"}


def test_engine_environment_is_hidden_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in (("PULUMI_PROJECT", "p"), ("PULUMI_STACK", "s"), ("PULUMI_DRY_RUN", "true")):
        monkeypatch.setenv(key, value)
    seen: list[bool] = []

    def check(resources: Any, cfg: RuleConfig) -> list[Finding]:
        seen.append("PULUMI_STACK" in os.environ)
        return []

    rule = StackRule(id="ISO-TEST-01", description="test", severity="low", tiers="N", scope="all",
                     check=check)
    monkeypatch.setattr(engine, "_pack", lambda: ((rule, to_policy(rule)),))
    monkeypatch.setattr(engine, "reconcile", lambda kind, config: reconcile(kind, config, (rule,)))
    monkeypatch.setattr(engine, "effective_severity", lambda r, k: r.severity)
    assert evaluate([f.deployment()]) == []
    assert seen == [False]
    assert os.environ["PULUMI_STACK"] == "s"


def test_stack_rules_receive_parents_and_dependencies() -> None:
    """The servicer links parent and dependency URNs to resources before the rule sees them."""
    seen: list[Resource] = []

    def check(resources: Any, cfg: RuleConfig) -> list[Finding]:
        seen.extend(resources)
        return [Finding("found", resources[1].urn)]

    rule = StackRule(id="ISO-TEST-02", description="test", severity="high", tiers="NPVD", scope="all",
                     check=check)
    parent = f.resource("tenant-platform:index:FileServerStack", "acme-files", {}, custom=False)
    child = f.resource("aws:s3/bucket:Bucket", "acme-files-bucket", {"bucket": "b"}, parent=parent,
                       depends_on=[parent])
    servicer = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, [to_policy(rule)], EnforcementLevel.ADVISORY)
    request = engine._Requests([parent, child], preview=False).analyze_stack()
    response = servicer.AnalyzeStack(request, None)
    assert [(r.urn, r.parent, r.dependencies) for r in seen] == [
        (parent["urn"], None, ()), (child["urn"], parent["urn"], (parent["urn"],))]
    assert [(d.policyName, d.urn, d.enforcementLevel) for d in response.diagnostics] == [
        ("ISO-TEST-02", child["urn"], analyzer_pb2.MANDATORY)]


def _one_case_per_rule() -> list[Any]:
    from tests.policy.test_coverage import CASES

    return list({c.rule: c for c in CASES}.values())


def test_type_subsets_change_nothing_but_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A seeded case of every rule and both baselines give the same result either way."""
    inputs = [(c.build(), c.kind, c.config) for c in _one_case_per_rule()]
    inputs += [(f.shared_stack(), "shared", None), (f.dedicated_stack(), "dedicated", None)]
    subset = [evaluate(r, kind, cfg) for r, kind, cfg in inputs]
    monkeypatch.setattr(engine, "SUBSET_BY_TYPE", False)
    assert [evaluate(r, kind, cfg) for r, kind, cfg in inputs] == subset


def test_type_subsets_keep_unknown_value_reporting(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = f.shared_stack()
    logging = f.find(stack, LOGGING, "acme-files-bucket-logging")
    stack = f.replace(stack, f.changed(logging, ("bucket",), "[unknown]"))
    stack = f.replace(stack, f.changed(f.deployment(), PRIVILEGED[:-1], "[unknown]"))
    subset = evaluate(stack, preview=True)
    monkeypatch.setattr(engine, "SUBSET_BY_TYPE", False)
    assert evaluate(stack, preview=True) == subset
