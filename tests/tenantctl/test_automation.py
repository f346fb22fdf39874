"""Automation API orchestration, driven through an injected PulumiCommand (no CLI here)."""

from __future__ import annotations

import json

import pytest

from tenantctl import cli
from tenantctl.automation import FleetRunner, waves
from tenants.loader import load_registry
from tenants.stacks import fleet_stacks
from tests.conftest import run_cli
from tests.tenantctl.fake_pulumi import FakePulumi


@pytest.fixture(scope="module")
def fleet():
    return fleet_stacks(load_registry())


def _runner(tmp_path, fake, **kw):
    messages: list[str] = []
    runner = FleetRunner(work_root=tmp_path, pulumi_command=fake, report=messages.append,
                         sleep=lambda _s: None, **kw)
    return runner, messages


def test_waves_put_the_canary_first_and_dedicated_last(fleet):
    names = [[s.name for s in wave] for wave in waves(fleet)]
    assert names == [["shared-dev"], ["shared-apne1-01", "shared-apne1-02", "shared-use1-01"],
                     ["tenant-aozora-health", "tenant-minato-bank"]]


def test_preview_selects_stack_sets_config_and_runs_policy_pack(tmp_path, fleet):
    fake = FakePulumi()
    runner, _ = _runner(tmp_path, fake)
    spec = next(s for s in fleet if s.name == "tenant-minato-bank")
    result = runner.run_one(spec, "preview")
    assert result.ok and result.changes == {"create": 7, "same": 2}
    assert fake.calls[0] == ["stack", "select", "--stack", "tenant-minato-bank"]
    config = next(c for c in fake.calls if c[:2] == ["config", "set-all"])
    assert "tenant-platform:role=dedicated" in config and "tenant-platform:tenant=minato-bank" in config
    assert "aws:region=ap-northeast-1" in config
    preview = fake.ran("preview")[0]
    assert preview[preview.index("--policy-pack") + 1].endswith("/policy")
    config_file = preview[preview.index("--policy-pack-config") + 1]
    assert config_file == str(tmp_path / "tenant-minato-bank" / "policy-config.json")
    levels = json.loads(open(config_file).read())
    assert levels["ISO-EKS-01"]["enforcementLevel"] == "mandatory"
    assert levels["ISO-NS-03"]["enforcementLevel"] == "disabled"  # N/P/V only: not in a dedicated stack
    assert preview[preview.index("--stack") + 1] == "tenant-minato-bank"
    assert (tmp_path / "tenant-minato-bank" / "Pulumi.yaml").exists()


def test_new_stack_is_initialised_when_select_fails(tmp_path, fleet):
    fake = FakePulumi(lambda a: "error: no stack named 'shared-dev' found" if a[:2] == ["stack", "select"]
                      else None)
    runner, _ = _runner(tmp_path, fake)
    assert runner.run_one(fleet[2], "preview").ok
    assert ["stack", "init", "shared-dev"] in [c[:3] for c in fake.calls]


def test_each_stack_gets_its_own_work_directory(tmp_path, fleet):
    fake = FakePulumi()
    runner, messages = _runner(tmp_path, fake, parallel=2)
    results = runner.run(fleet, "preview")
    assert [r.ok for r in results] == [True] * 6
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(s.name for s in fleet)
    assert messages[0] == "wave 1/3: shared-dev"
    assert messages[-1].startswith("[6/6] ")


def test_locked_stack_is_retried_with_backoff(tmp_path, fleet):
    attempts = {"n": 0}

    def fail(args):
        if args[0] == "up":
            attempts["n"] += 1
            if attempts["n"] < 3:
                return "error: the stack is currently locked by 1 lock(s)"
        return None

    fake = FakePulumi(fail)
    slept: list[float] = []
    runner = FleetRunner(work_root=tmp_path, pulumi_command=fake, report=lambda _m: None,
                         sleep=slept.append, backoff_seconds=2)
    result = runner.run_one(fleet[0], "up")
    assert result.ok and result.attempts == 3
    assert slept == [2, 4]
    assert not fake.ran("cancel")


def test_failed_wave_stops_the_rollout(tmp_path, fleet):
    fake = FakePulumi(lambda a: "error: boom" if a[0] == "up" and "shared-dev" in a else None)
    runner, messages = _runner(tmp_path, fake)
    results = runner.run(fleet, "up")
    assert [(r.stack, r.ok) for r in results] == [("shared-dev", False)]
    assert "error: boom" in results[0].error
    assert messages[-1].startswith("stopping: later waves not run: shared-apne1-01")


def test_cli_up_requires_yes():
    result = run_cli("up", "--stack", "shared-dev")
    assert result.code == 2 and "add --yes" in result.err


def test_cli_destroy_never_targets_the_whole_fleet():
    result = run_cli("destroy", "--yes")
    assert result.code == 2 and "explicit --stack or --tenant" in result.err


def test_cli_without_pulumi_cli_explains_and_exits_2(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_cli("preview", "--stack", "shared-dev")
    assert result.code == 2 and "`tenantctl plan` works without it" in result.err


def test_cli_preview_reports_failures_with_exit_3(tmp_path, monkeypatch):
    fake = FakePulumi(lambda a: "error: policy violation" if a[0] == "preview" else None)
    monkeypatch.setattr("pulumi.automation.PulumiCommand", lambda *a, **k: fake)
    result = run_cli("preview", "--tenant", "minato-bank", "--work-dir", str(tmp_path))
    assert result.code == cli.EXIT_FAILED
    assert "preview: 0 ok, 1 failed, 0 not run" in result.out
