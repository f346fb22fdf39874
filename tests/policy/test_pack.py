"""Meta-tests: every rule module is registered, the catalogue is implemented, the pack boots."""

from __future__ import annotations

import importlib
import pkgutil
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pulumi_policy
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

import policy.rules
from policy.catalogue import CATALOGUE, STACK_BY_DESIGN
from policy.pack import PACK_NAME, PACK_VERSION, build_policies
from policy.rule import ResourceRule, StackRule
from policy.rules import ALL
from tests.policy import fixtures as f

POLICY_DIR = Path(policy.rules.__file__).resolve().parents[1]
RULE_MODULES = sorted(m.name for m in pkgutil.iter_modules(policy.rules.__path__))


def _module(name: str) -> Any:
    return importlib.import_module(f"policy.rules.{name}")


def test_every_rule_module_is_registered_in_the_pack() -> None:
    registered = {id(r) for r in ALL}
    assert RULE_MODULES, "no rule modules found"
    missing = [m for m in RULE_MODULES if id(_module(m).RULE) not in registered]
    assert missing == []
    assert len(ALL) == len(RULE_MODULES) == len({r.id for r in ALL})


@pytest.mark.parametrize("name", RULE_MODULES)
def test_module_name_matches_its_rule_id(name: str) -> None:
    assert _module(name).RULE.id == name.upper().replace("_", "-")


def test_every_catalogue_rule_is_implemented_and_nothing_else() -> None:
    assert sorted(r.id for r in ALL) == sorted(CATALOGUE)
    assert len(CATALOGUE) == 77  # a rule removed or added must change this line too


@pytest.mark.parametrize("rule", ALL, ids=[r.id for r in ALL])
def test_rule_metadata_matches_the_catalogue(rule: ResourceRule | StackRule) -> None:
    entry = CATALOGUE[rule.id]
    assert rule.severity == entry.severity_name
    assert rule.tiers == entry.tiers
    is_stack = isinstance(rule, StackRule)
    assert is_stack == (entry.stack or rule.id in STACK_BY_DESIGN)
    assert rule.description.endswith(".") and len(rule.description) > 20
    assert rule.default_enforcement == ("mandatory" if entry.severity in "CH" else "advisory")


@pytest.mark.parametrize("name", RULE_MODULES)
def test_rule_messages_are_fixed_sentences(name: str) -> None:
    messages = {k: v for k, v in vars(_module(name)).items() if k.startswith("MSG_")}
    assert messages, f"{name} declares no MSG_ constants"
    for key, text in messages.items():
        assert isinstance(text, str) and text.endswith("."), key
        assert not re.search(r"\{\w+\}|%s", text), f"{key} has a placeholder: messages are fixed"


def test_policies_carry_rule_metadata() -> None:
    policies = build_policies()
    assert [p.name for p in policies] == [r.id for r in ALL]
    for rule, pol in zip(ALL, policies, strict=True):
        kind = ResourceValidationPolicy if isinstance(rule, ResourceRule) else StackValidationPolicy
        assert isinstance(pol, kind)
        assert pol.description == rule.description
        assert pol.severity is not None and pol.severity.value == rule.severity
        assert pol.enforcement_level is not None and pol.enforcement_level.value == rule.default_enforcement
        assert pol.config_schema is not None
        assert pol.config_schema.properties["tiers"]["default"] == list(rule.tiers)


def test_pulumi_policy_yaml_matches_the_pack() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == "python"
    assert project["version"] == PACK_VERSION


def test_policy_pack_is_constructed_only_in_main() -> None:
    offenders = [p.relative_to(POLICY_DIR).as_posix() for p in POLICY_DIR.rglob("*.py")
                 if "PolicyPack(" in p.read_text() and p.name != "__main__.py"]
    assert offenders == []


def test_main_builds_the_pack_from_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kw: built.append(kw))
    monkeypatch.chdir(POLICY_DIR)
    runpy.run_path(str(POLICY_DIR / "__main__.py"), run_name="__main__")
    assert len(built) == 1
    assert built[0]["name"] == PACK_NAME
    assert [p.name for p in built[0]["policies"]] == [r.id for r in ALL]
    assert str(POLICY_DIR.parent) in sys.path


@pytest.fixture(scope="module")
def served_pack() -> Any:
    """The pack as the Pulumi CLI's analyzer shim runs it: ``python -u -m pulumi.policy <engine> .``
    in policy/; it prints the port of its gRPC server."""
    command = [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."]
    process = subprocess.Popen(command, cwd=POLICY_DIR, stdout=subprocess.PIPE,  # noqa: S603
                               stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().decode().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.kill()
        process.wait(timeout=30)


def test_served_pack_describes_every_policy(served_pack: Any) -> None:
    info = served_pack.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == PACK_NAME and info.supportsConfig
    assert sorted(p.name for p in info.policies) == sorted(CATALOGUE)
    schemas = {p.name: json_format.MessageToDict(p.configSchema.properties) for p in info.policies}
    assert schemas["ISO-NODE-01"]["tiers"]["default"] == ["P"]


def test_served_pack_analyzes_like_the_in_process_engine(served_pack: Any) -> None:
    res = f.changed(f.deployment(), ("spec", "template", "spec", "hostPID"), True)
    props = struct_pb2.Struct()
    props.update(res["inputs"])
    response = served_pack.Analyze(analyzer_pb2.AnalyzeRequest(
        type=res["type"], urn=res["urn"], name=res["name"], properties=props), timeout=30)
    found = {(d.policyName, d.enforcementLevel, d.message.split("\n", 1)[1]) for d in response.diagnostics}
    assert found == {("ISO-POD-02", analyzer_pb2.MANDATORY, "Set spec.hostPID to false (or leave it unset).")}
