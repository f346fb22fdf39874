"""Automation API orchestration, driven through an injected PulumiCommand (no CLI here).

The stacks come from the rollout fixture registry (tests/fixtures/rollout: the canary cell
dev, cells r1 and r2, dedicated tenants silo and solo), never from tenants/registry/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenantctl import cli
from tenantctl.automation import FleetRunner, Plugin, required_plugins, waves
from tenants.loader import load_registry
from tenants.stacks import fleet_stacks
from tests.conftest import run_cli
from tests.tenantctl.fake_pulumi import FakePulumi

REGISTRY = Path(__file__).resolve().parents[1] / "fixtures" / "rollout"


@pytest.fixture(scope="module")
def fleet():
    return fleet_stacks(load_registry(REGISTRY))


def _spec(fleet, name):
    return next(s for s in fleet if s.name == name)


def _runner(tmp_path, fake, **kw):
    messages: list[str] = []
    runner = FleetRunner(work_root=tmp_path, pulumi_command=fake, report=messages.append,
                         sleep=lambda _s: None, **kw)
    return runner, messages


def test_waves_put_the_canary_first_and_dedicated_last(fleet):
    names = [[s.name for s in wave] for wave in waves(fleet)]
    assert names == [["shared-dev"], ["shared-r1", "shared-r2"], ["tenant-silo", "tenant-solo"]]


def test_preview_selects_stack_sets_config_and_runs_policy_pack(tmp_path, fleet):
    fake = FakePulumi()
    runner, _ = _runner(tmp_path, fake)
    result = runner.run_one(_spec(fleet, "tenant-solo"), "preview")
    assert result.ok and result.changes == {"create": 7, "same": 2}
    assert fake.calls[0] == ["stack", "select", "--stack", "tenant-solo"]
    config = next(c for c in fake.calls if c[:2] == ["config", "set-all"])
    assert "tenant-platform:role=dedicated" in config and "tenant-platform:tenant=solo" in config
    assert "aws:region=ap-northeast-1" in config
    preview = fake.ran("preview")[0]
    assert preview[preview.index("--policy-pack") + 1].endswith("/policy")
    config_file = preview[preview.index("--policy-pack-config") + 1]
    assert config_file == str(tmp_path / "tenant-solo" / "policy-config.json")
    levels = json.loads(open(config_file).read())
    assert levels["ISO-EKS-01"]["enforcementLevel"] == "mandatory"
    assert levels["ISO-NS-03"]["enforcementLevel"] == "disabled"  # N/P/V only: not in a dedicated stack
    assert preview[preview.index("--stack") + 1] == "tenant-solo"
    assert (tmp_path / "tenant-solo" / "Pulumi.yaml").exists()


def test_new_stack_is_initialised_when_select_fails(tmp_path, fleet):
    fake = FakePulumi(lambda a: "error: no stack named 'shared-dev' found" if a[:2] == ["stack", "select"]
                      else None)
    runner, _ = _runner(tmp_path, fake)
    assert runner.run_one(_spec(fleet, "shared-dev"), "preview").ok
    assert ["stack", "init", "shared-dev"] in [c[:3] for c in fake.calls]


def test_each_stack_gets_its_own_work_directory(tmp_path, fleet):
    fake = FakePulumi()
    runner, messages = _runner(tmp_path, fake, parallel=2)
    results = runner.run(fleet, "preview")
    assert [r.ok for r in results] == [True] * 5
    stack_dirs = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert stack_dirs == sorted(s.name for s in fleet)
    assert messages[0] == "wave 1/3: shared-dev"
    assert messages[-1].startswith("[5/5] ")


def test_plugins_are_installed_once_serially_before_any_stack(tmp_path, fleet):
    fake = FakePulumi()
    runner, _ = _runner(tmp_path, fake, parallel=3)
    runner.run(fleet, "preview")
    installs = [c for c in fake.calls if c[:2] == ["plugin", "install"]]
    assert installs == [["plugin", "install", "resource", p.name, p.version] for p in required_plugins()]
    first_select = next(i for i, c in enumerate(fake.calls) if c[:2] == ["stack", "select"])
    assert fake.calls[:first_select] == installs


def test_required_plugins_are_the_provider_sdks_own():
    import pulumi_aws
    import pulumi_kubernetes

    by_name = {p.name: p for p in required_plugins()}
    for module in (pulumi_aws, pulumi_kubernetes):
        meta = json.loads((Path(module.__file__).parent / "pulumi-plugin.json").read_text())
        assert by_name[meta["name"]].version == "v" + meta["version"]
    assert "policy" not in by_name  # pulumi-policy ships {"resource": false}


def test_a_plugin_from_its_own_server_is_installed_from_there(tmp_path):
    fake = FakePulumi()
    runner, _ = _runner(tmp_path, fake)
    runner.install_plugins([Plugin("thing", "v1.2.3", "github://api.github.com/acme")])
    assert fake.calls == [["plugin", "install", "resource", "thing", "v1.2.3",
                           "--server", "github://api.github.com/acme"]]


def test_a_failed_plugin_install_runs_no_stack(tmp_path, fleet):
    fake = FakePulumi(lambda a: "error: plugin download failed" if a[:2] == ["plugin", "install"] else None)
    runner, messages = _runner(tmp_path, fake)
    assert runner.run(fleet, "up") == []
    assert not fake.ran("up") and not fake.ran("stack")
    assert "plugin install failed" in messages[-1]


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
    result = runner.run_one(_spec(fleet, "shared-r1"), "up")
    assert result.ok and result.attempts == 3
    assert slept == [2, 4]
    assert not fake.ran("cancel")


def test_failed_wave_stops_the_rollout(tmp_path, fleet):
    fake = FakePulumi(lambda a: "error: boom" if a[0] == "up" and "shared-dev" in a else None)
    runner, messages = _runner(tmp_path, fake)
    results = runner.run(fleet, "up")
    assert [(r.stack, r.ok) for r in results] == [("shared-dev", False)]
    assert "error: boom" in results[0].error
    assert messages[-1] == ("stopping: later waves not run: shared-r1, shared-r2, tenant-silo, "
                            "tenant-solo")


def test_cli_up_requires_yes():
    result = run_cli("up", "--stack", "shared-dev", "--registry", str(REGISTRY))
    assert result.code == 2 and "add --yes" in result.err


def test_cli_destroy_never_targets_the_whole_fleet():
    result = run_cli("destroy", "--yes", "--registry", str(REGISTRY))
    assert result.code == 2 and "explicit --stack or --tenant" in result.err


def test_cli_without_pulumi_cli_explains_and_exits_2(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_cli("preview", "--stack", "shared-dev", "--registry", str(REGISTRY))
    assert result.code == 2 and "`tenantctl plan` works without it" in result.err


def test_cli_preview_reports_failures_with_exit_3(tmp_path, monkeypatch):
    fake = FakePulumi(lambda a: "error: policy violation" if a[0] == "preview" else None)
    monkeypatch.setattr("pulumi.automation.PulumiCommand", lambda *a, **k: fake)
    result = run_cli("preview", "--tenant", "solo", "--registry", str(REGISTRY), "--work-dir", str(tmp_path))
    assert result.code == cli.EXIT_FAILED
    assert "preview: 0 ok, 1 failed, 0 not run" in result.out
