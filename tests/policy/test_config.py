"""Per-stack configuration: tiers, lowered severities, the engine's merge, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy import config
from policy.rules import ALL

BY_ID = {r.id: r for r in ALL}


@pytest.mark.parametrize(("rule", "kind", "level", "tiers"), [
    ("ISO-NS-03", "shared", "mandatory", ["N", "P", "V"]),
    ("ISO-NS-03", "dedicated", "disabled", []),
    ("ISO-NS-02", "dedicated", "advisory", ["D"]),
    ("ISO-NET-06", "dedicated", "advisory", ["D"]),
    ("ISO-NET-06", "shared", "mandatory", ["N", "P", "V"]),
    ("ISO-NODE-01", "shared", "mandatory", ["P"]),
    ("ISO-NODE-01", "dedicated", "disabled", []),
    ("ISO-IAM-01", "dedicated", "mandatory", ["D"]),
    ("ISO-POD-11", "shared", "advisory", ["N", "P", "V"]),
    ("ISO-VC-01", "shared", "mandatory", ["V"]),
], ids=lambda v: v if isinstance(v, str) else "-".join(v) or "none")
def test_stack_config_defaults(rule: str, kind: str, level: str, tiers: list[str]) -> None:
    assert config.stack_config(kind)[rule] == {"enforcementLevel": level, "tiers": tiers}


@pytest.mark.parametrize(("rule", "kind", "severity"), [
    ("ISO-NS-01", "dedicated", "medium"), ("ISO-NET-08", "dedicated", "low"),
    ("ISO-MESH-01", "dedicated", "medium"), ("ISO-POD-14", "dedicated", "low"),
    ("ISO-EKS-01", "dedicated", "critical"), ("ISO-DATA-05", "dedicated", "critical"),
    ("ISO-NS-01", "shared", "high"),
])
def test_effective_severity(rule: str, kind: str, severity: str) -> None:
    assert config.effective_severity(BY_ID[rule], kind) == severity


def test_every_rule_is_configured_for_both_kinds() -> None:
    for kind in config.STACK_KINDS:
        assert set(config.stack_config(kind)) == set(BY_ID)


def test_reconcile_layers_defaults_stack_config_and_overrides() -> None:
    merged = config.reconcile("shared", {"all": "advisory", "ISO-POD-12": {
        "enforcementLevel": "mandatory", "allowedPriorityClasses": ["x"]}})
    assert merged["ISO-POD-01"] == config.PolicyConfig("advisory", {"tiers": ["N", "P", "V"]})
    assert merged["ISO-POD-12"] == config.PolicyConfig(
        "mandatory", {"tiers": ["N", "P", "V"], "allowedPriorityClasses": ["x"]})


def test_unknown_stack_kind_is_refused() -> None:
    with pytest.raises(config.PolicyConfigError, match="stack kind 'cell'"):
        config.stack_config("cell")


@pytest.mark.parametrize(("stack", "kind"), [
    ("tenant-minato-bank", "dedicated"), ("shared-apne1-01", "shared"), ("dev", "shared")])
def test_stack_kind_follows_the_stack_name(stack: str, kind: str) -> None:
    assert config.stack_kind_of(stack) == kind


def test_cli_writes_the_policy_pack_config_of_a_stack(tmp_path: Path) -> None:
    out = tmp_path / "cfg" / "tenant-minato-bank.json"
    assert config.main(["--stack", "tenant-minato-bank", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == config.stack_config("dedicated")


def test_cli_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert config.main(["--kind", "shared"]) == 0
    assert json.loads(capsys.readouterr().out) == config.stack_config("shared")


def test_cli_needs_a_stack_or_kind() -> None:
    with pytest.raises(SystemExit):
        config.main([])
