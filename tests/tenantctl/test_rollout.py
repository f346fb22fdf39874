"""``tenantctl rollout`` through Pulumi's own seam: the exact CLI calls, their order, the record.

The fleet is the rollout fixture registry (tests/fixtures/rollout): waves are the canary
``shared-dev``, then ``shared-r1``/``shared-r2``, then ``tenant-silo``/``tenant-solo``.
The Pulumi CLI is a FakePulumi injected as ``PulumiCommand`` (it records every call and
fails the ones a test scripts).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tenantctl import rollout as rollout_module
from tenantctl.automation import required_plugins
from tenantctl.rollout import holding
from tenants.loader import load_registry
from tenants.stacks import fleet_stacks
from tests.conftest import run_cli
from tests.tenantctl.fake_pulumi import FakePulumi

REGISTRY = Path(__file__).resolve().parents[1] / "fixtures" / "rollout"
FLEET = ["shared-dev", "shared-r1", "shared-r2", "tenant-silo", "tenant-solo"]
WAVES = [["shared-dev"], ["shared-r1", "shared-r2"], ["tenant-silo", "tenant-solo"]]


@pytest.fixture(scope="module")
def fleet():
    return fleet_stacks(load_registry(REGISTRY))


@pytest.fixture
def record(tmp_path) -> Path:
    return tmp_path / "record" / "rollout.json"


def rollout(tmp_path, monkeypatch, fake, *extra, record: Path | None = None):
    monkeypatch.setattr("pulumi.automation.PulumiCommand", lambda *a, **k: fake)
    argv = ["rollout", "--registry", str(REGISTRY), "--work-dir", str(tmp_path / "work"),
            "--lock-backoff", "0", *extra]
    if record is not None and "--resume" not in extra:
        argv += ["--record", str(record)]
    return run_cli(*argv)


def stack_of(call: list[str]) -> str:
    return call[call.index("--stack") + 1]


def ups(fake: FakePulumi) -> list[str]:
    return [stack_of(c) for c in fake.ran("up")]


def fail_up(*stacks: str, message: str = "error: update failed"):
    return lambda a: message if a[0] == "up" and stack_of(a) in stacks else None


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_plugins_once_then_the_canary_then_each_wave_in_turn(tmp_path, monkeypatch, record):
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake, "--yes", "--parallel", "2", record=record)
    assert result.code == 0, result.err
    installs = [c for c in fake.calls if c[:2] == ["plugin", "install"]]
    assert installs == [["plugin", "install", "resource", p.name, p.version] for p in required_plugins()]
    assert installs and fake.calls[:len(installs)] == installs  # before any stack is touched
    order = ups(fake)
    assert sorted(order) == FLEET  # each stack updated exactly once
    assert order[0] == "shared-dev"
    position = {name: i for i, name in enumerate(order)}
    for earlier, later in zip(WAVES, WAVES[1:], strict=False):
        assert max(position[n] for n in earlier) < min(position[n] for n in later)
    for call in fake.ran("up"):
        assert call[call.index("--policy-pack") + 1].endswith("/policy")  # the pack is on
    assert "rollout up: 5 done, 0 failed, 0 not run" in result.out


def test_a_failed_canary_means_no_other_up(tmp_path, monkeypatch, record):
    fake = FakePulumi(fail_up("shared-dev"))
    result = rollout(tmp_path, monkeypatch, fake, "--yes", "--json", record=record)
    assert result.code == 3
    assert ups(fake) == ["shared-dev"]
    summary = json.loads(result.out)
    assert summary["ok"] is False
    assert summary["counts"] == {"done": 0, "failed": 1, "pending": 4, "running": 0}
    assert "error: update failed" in summary["stacks"]["shared-dev"]["error"]
    assert "stopping: wave 1 failed (shared-dev); not run: shared-r1, shared-r2" in result.err


def test_a_failure_in_a_wave_lets_its_wave_mates_finish_then_stops(tmp_path, monkeypatch, record):
    fake = FakePulumi(fail_up("shared-r1"))
    result = rollout(tmp_path, monkeypatch, fake, "--yes", "--parallel", "1", record=record)
    assert result.code == 3
    assert ups(fake) == ["shared-dev", "shared-r1", "shared-r2"]  # r2 ran although r1 failed first
    stacks = read(record)["stacks"]
    assert {n: e["status"] for n, e in stacks.items()} == {
        "shared-dev": "done", "shared-r1": "failed", "shared-r2": "done",
        "tenant-silo": "pending", "tenant-solo": "pending"}
    assert f"continue with --resume {record}" in result.out


def test_an_unexpected_error_in_one_stack_is_that_stacks_failure_only(tmp_path, monkeypatch, record):
    def explode(args):
        if args[0] == "up" and stack_of(args) == "shared-r2":
            raise RuntimeError("disk on fire")
        return None

    fake = FakePulumi(explode)
    result = rollout(tmp_path, monkeypatch, fake, "--yes", record=record)
    assert result.code == 3
    stacks = read(record)["stacks"]
    assert stacks["shared-r2"]["status"] == "failed"
    assert stacks["shared-r2"]["error"] == "RuntimeError: disk on fire"
    assert stacks["shared-r1"]["status"] == "done"
    assert "tenant-silo" not in ups(fake)


def test_resume_runs_only_what_is_not_done(tmp_path, monkeypatch, record):
    first = FakePulumi(fail_up("shared-r1"))
    assert rollout(tmp_path, monkeypatch, first, "--yes", "--parallel", "1", record=record).code == 3
    again = FakePulumi()
    result = rollout(tmp_path, monkeypatch, again, "--yes", "--json", "--resume", str(record))
    assert result.code == 0, result.err
    assert sorted(ups(again)) == ["shared-r1", "tenant-silo", "tenant-solo"]
    assert ups(again)[0] == "shared-r1"  # its wave finishes before the next starts
    stacks = read(record)["stacks"]
    assert all(e["status"] == "done" for e in stacks.values())
    assert stacks["shared-r1"]["attempts"] == 2 and stacks["shared-dev"]["attempts"] == 1
    assert stacks["tenant-solo"]["changes"] == {"create": 7}
    assert "resuming" in result.err and "3 of 5 stacks done already" not in result.err
    assert "2 of 5 stacks done already" in result.err
    # A finished record resumed again runs nothing at all (no plugin install either).
    third = FakePulumi()
    assert rollout(tmp_path, monkeypatch, third, "--yes", "--resume", str(record)).code == 0
    assert third.calls == []


def test_a_stack_left_running_by_a_crash_runs_again(tmp_path, monkeypatch, record):
    assert rollout(tmp_path, monkeypatch, FakePulumi(fail_up("shared-r1")), "--yes",
                   record=record).code == 3
    data = read(record)
    data["stacks"]["shared-r1"]["status"] = "running"
    record.write_text(json.dumps(data))
    again = FakePulumi()
    assert rollout(tmp_path, monkeypatch, again, "--yes", "--resume", str(record)).code == 0
    assert "shared-r1" in ups(again) and "shared-dev" not in ups(again)


@pytest.mark.parametrize(("extra", "message"), [
    (("--stack", "shared-dev", "--stack", "shared-r1"),
     "shared-r2, tenant-silo, tenant-solo, not selected now"),
    (("--action", "refresh"), "it records `up`, not `refresh`"),
    (("--environment", "stage"), "it records environment prod, not stage"),
    (("--waves", "all"), "--waves gives other waves than the record"),
], ids=["other-stacks", "other-action", "other-environment", "other-waves"])
def test_resume_refuses_a_record_of_another_rollout(tmp_path, monkeypatch, record, extra, message):
    assert rollout(tmp_path, monkeypatch, FakePulumi(fail_up("shared-dev")), "--yes",
                   record=record).code == 3
    before = record.read_text()
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake, "--yes", "--resume", str(record), *extra)
    assert result.code == 2 and message in result.err, result.err
    assert fake.calls == [] and record.read_text() == before


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such record"),
    ("{not json", "not a rollout record"),
    (json.dumps({"version": 1, "action": "up", "environment": "prod", "waves": [["shared-dev"]],
                 "stacks": {}}), "not exactly the stacks of its waves"),
    (json.dumps({"version": 1, "action": "destroy", "environment": "prod", "waves": [], "stacks": {}}),
     "action or environment missing"),
    (json.dumps({"version": 1, "action": "up", "environment": "prod", "waves": [["shared-dev"]],
                 "stacks": {"shared-dev": {"status": "finished", "attempts": 1, "changes": {}}}}),
     "shared-dev: status, attempts or changes missing"),
], ids=["missing", "not-json", "stack-set", "destroy", "bad-status"])
def test_resume_refuses_what_is_not_a_record(tmp_path, monkeypatch, record, content, message):
    if content is not None:
        record.parent.mkdir(parents=True)
        record.write_text(content)
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake, "--yes", "--resume", str(record))
    assert result.code == 2 and message in result.err, result.err
    assert fake.calls == []


def test_the_record_is_written_after_every_stack(tmp_path, monkeypatch, record):
    seen: dict[str, dict] = {}

    def peek(args):
        if args[0] == "up":
            seen[stack_of(args)] = {n: e["status"] for n, e in read(record)["stacks"].items()}
        return None

    result = rollout(tmp_path, monkeypatch, FakePulumi(peek), "--yes", "--parallel", "1", record=record)
    assert result.code == 0
    assert seen["shared-dev"] == {"shared-dev": "running", "shared-r1": "pending", "shared-r2": "pending",
                                  "tenant-silo": "pending", "tenant-solo": "pending"}
    assert seen["shared-r2"]["shared-r1"] == "done" and seen["shared-r2"]["shared-r2"] == "running"
    assert seen["tenant-solo"]["tenant-silo"] == "done"
    final = read(record)
    assert final["action"] == "up" and final["waves"] == WAVES
    entry = final["stacks"]["shared-dev"]
    assert entry["started"] <= entry["finished"] and entry["error"] == ""
    assert not list(record.parent.glob(".*.tmp"))  # no temporary file left behind


def test_a_locked_stack_is_retried_and_its_attempts_recorded(tmp_path, monkeypatch, record):
    tries = {"n": 0}

    def locked(args):
        if args[0] == "up" and stack_of(args) == "shared-r2":
            tries["n"] += 1
            if tries["n"] < 3:
                return "error: the stack is currently locked by 1 lock(s)"
        return None

    fake = FakePulumi(locked)
    result = rollout(tmp_path, monkeypatch, fake, "--yes", record=record)
    assert result.code == 0, result.err
    assert ups(fake).count("shared-r2") == 3 and not fake.ran("cancel")
    assert read(record)["stacks"]["shared-r2"]["attempts"] == 3
    assert "shared-r2: locked by another update; retrying" in result.err
    assert "shared-r2: up ok in" in result.err and "3 attempts" in result.err


def test_a_stack_locked_past_its_retries_fails(tmp_path, monkeypatch, record):
    fake = FakePulumi(fail_up("shared-dev", message="error: the stack is currently locked by 1 lock(s)"))
    result = rollout(tmp_path, monkeypatch, fake, "--yes", "--lock-retries", "1", record=record)
    assert result.code == 3 and ups(fake) == ["shared-dev", "shared-dev"]
    assert read(record)["stacks"]["shared-dev"]["error"].startswith("stack is locked")


def test_progress_is_one_line_per_stack_on_stderr(tmp_path, monkeypatch, record):
    result = rollout(tmp_path, monkeypatch, FakePulumi(), "--yes", "--json", record=record)
    lines = [line for line in result.err.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] + "]" for line in lines] == [f"[{i}/5]" for i in range(1, 6)]
    assert lines[0].startswith("[1/5] shared-dev: up ok in ") and "elapsed" in lines[0]
    assert "create=7" in lines[0]
    json.loads(result.out)  # stdout holds the summary alone


def test_json_summary(tmp_path, monkeypatch, record):
    result = rollout(tmp_path, monkeypatch, FakePulumi(), "--yes", "--json", record=record)
    summary = json.loads(result.out)
    assert summary["ok"] is True and summary["action"] == "up" and summary["environment"] == "prod"
    assert summary["waves"] == WAVES and summary["record"] == str(record)
    assert summary["counts"] == {"done": 5, "failed": 0, "pending": 0, "running": 0}
    assert summary["stacks"]["tenant-silo"]["changes"] == {"create": 7}
    assert summary["stacks"]["tenant-silo"]["wave"] == 3


def test_a_failed_plugin_install_runs_no_stack_and_exits_3(tmp_path, monkeypatch, record):
    fake = FakePulumi(lambda a: "error: 403 downloading plugin" if a[:2] == ["plugin", "install"] else None)
    result = rollout(tmp_path, monkeypatch, fake, "--yes", record=record)
    assert result.code == 3 and ups(fake) == []
    assert "plugin install failed" in result.err
    assert {e["status"] for e in read(record)["stacks"].values()} == {"pending"}


def test_a_second_rollout_on_the_same_record_is_refused(tmp_path, monkeypatch, record):
    fake = FakePulumi()
    with holding(record):
        result = rollout(tmp_path, monkeypatch, fake, "--yes", record=record)
    assert result.code == 2 and "another rollout is using this record" in result.err
    assert fake.calls == []


# --- wave plans -------------------------------------------------------------------------------
def matrix(tmp_path, monkeypatch, *extra):
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake, "--matrix", *extra)
    assert fake.calls == [], "--matrix never reaches Pulumi"
    return result


@pytest.mark.parametrize(("spec", "expected"), [
    ("default", WAVES),
    ("all", [FLEET]),
    ("1,2", [["shared-dev"], ["shared-r1", "shared-r2"], ["tenant-silo", "tenant-solo"]]),
    ("1,3", [["shared-dev"], ["shared-r1", "shared-r2", "tenant-silo"], ["tenant-solo"]]),
    ("2", [["shared-dev", "shared-r1"], ["shared-r2", "tenant-silo"], ["tenant-solo"]]),
    ("shared-r2;shared-dev,tenant-solo;*", [["shared-r2"], ["shared-dev", "tenant-solo"],
                                            ["shared-r1", "tenant-silo"]]),
    ("tenant-silo; *", [["tenant-silo"], ["shared-dev", "shared-r1", "shared-r2", "tenant-solo"]]),
    ("shared-dev;shared-r1 shared-r2;tenant-silo,tenant-solo;*", WAVES),
])
def test_wave_plans(tmp_path, monkeypatch, spec, expected):
    result = matrix(tmp_path, monkeypatch, "--waves", spec, "--per-job", "100")
    assert result.code == 0, result.err
    entries = json.loads(result.out)["include"]
    assert [e["stacks"].split() for e in entries] == expected
    assert [e["wave"] for e in entries] == list(range(1, len(expected) + 1))


@pytest.mark.parametrize(("spec", "message"), [
    ("0,2", "a wave holds at least one stack"),
    ("shared-dev;;*", "an empty wave"),
    ("shared-dev;shared-nope;*", "shared-nope not selected"),
    ("shared-dev;shared-dev,shared-r1;*", "shared-dev in more than one wave"),
    ("shared-dev;shared-r1", "shared-r2, tenant-silo, tenant-solo in no wave"),
    ("*;shared-dev;*", "'*' stands alone, once"),
    ("shared-dev;shared-r1,*", "'*' stands alone, once"),
])
def test_bad_wave_plans_are_refused_before_anything_runs(tmp_path, monkeypatch, record, spec, message):
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake, "--yes", "--waves", spec, record=record)
    assert result.code == 2 and message in result.err, result.err
    assert fake.calls == [] and not record.exists()


def test_a_listed_stack_that_is_not_selected_is_refused(tmp_path, monkeypatch):
    result = matrix(tmp_path, monkeypatch, "--stack", "shared-r1", "--waves", "shared-dev;*")
    assert result.code == 2 and "shared-dev not selected; selected stacks are shared-r1" in result.err


def test_without_the_canary_cell_the_first_selected_stack_is_the_canary(tmp_path, monkeypatch):
    result = matrix(tmp_path, monkeypatch, "--stack", "shared-r2", "--stack", "shared-r1",
                    "--tenant", "solo")
    assert [e["stacks"] for e in json.loads(result.out)["include"]] == [
        "shared-r1", "shared-r2", "tenant-solo"]


def test_matrix_cuts_waves_into_jobs_for_ci_runners(tmp_path, monkeypatch):
    result = matrix(tmp_path, monkeypatch, "--per-job", "1")
    entries = json.loads(result.out)["include"]
    tokyo = "ap-northeast-1"
    assert entries[:3] == [
        {"wave": 1, "part": 1, "parts": 1, "region": tokyo, "stacks": "shared-dev"},
        {"wave": 2, "part": 1, "parts": 2, "region": tokyo, "stacks": "shared-r1"},
        {"wave": 2, "part": 2, "parts": 2, "region": tokyo, "stacks": "shared-r2"}]
    assert len(entries) == 5


def test_a_matrix_job_never_mixes_regions(fleet):
    # One job runs on one region's deploy runner: stacks of two regions never share one.
    by_name = {s.name: s for s in fleet}
    virginia = [replace(by_name[name], region="us-east-1") for name in ("shared-r1", "tenant-silo")]
    wave = [by_name["shared-r2"], virginia[0], by_name["tenant-solo"], virginia[1]]
    entries = rollout_module.matrix([wave], per_job=5)
    assert [(e["region"], e["stacks"], e["part"], e["parts"]) for e in entries] == [
        ("ap-northeast-1", "shared-r2 tenant-solo", 1, 2), ("us-east-1", "shared-r1 tenant-silo", 2, 2)]
    assert [e["stacks"] for e in rollout_module.matrix([wave], per_job=1)] == [
        "shared-r2", "tenant-solo", "shared-r1", "tenant-silo"]


def test_a_wave_beyond_githubs_matrix_limit_is_refused(fleet):
    wave = [replace(fleet[0], name=f"shared-c{i}") for i in range(rollout_module.MATRIX_LIMIT + 1)]
    assert len(rollout_module.matrix([wave], per_job=2)) == 129
    with pytest.raises(rollout_module.RolloutError, match="raise --per-job"):
        rollout_module.matrix([wave], per_job=1)


def test_matrix_writes_one_matrix_per_wave_to_github_output(tmp_path, monkeypatch):
    out = tmp_path / "github-output"
    out.write_text("stacks=[]\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    result = matrix(tmp_path, monkeypatch, "--github-output")
    assert result.code == 0, result.err
    lines = out.read_text().splitlines()
    assert lines[0] == "stacks=[]"  # appended, never overwritten
    values = dict(line.split("=", 1) for line in lines[1:])
    assert values["waves"] == "3"
    assert json.loads(values["wave1"]) == {
        "include": [{"wave": 1, "part": 1, "parts": 1, "region": "ap-northeast-1", "stacks": "shared-dev"}]}
    assert json.loads(values["wave3"])["include"][0]["stacks"] == "tenant-silo tenant-solo"
    assert json.loads(values["matrix"]) == json.loads(result.out)


def test_github_output_needs_the_matrix_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert "$GITHUB_OUTPUT is not set" in matrix(tmp_path, monkeypatch, "--github-output").err
    result = rollout(tmp_path, monkeypatch, FakePulumi(), "--yes", "--github-output")
    assert result.code == 2 and "--github-output goes with --matrix" in result.err


# --- selection and input ------------------------------------------------------------------------
def test_stacks_from_the_gate(tmp_path, monkeypatch):
    gate = tmp_path / "stacks.json"
    gate.write_text(json.dumps(["tenant-solo", "shared-r2"]))
    result = matrix(tmp_path, monkeypatch, "--stacks-from", str(gate))
    assert [e["stacks"] for e in json.loads(result.out)["include"]] == ["shared-r2", "tenant-solo"]


def test_an_empty_gate_list_selects_nothing_never_the_whole_fleet(tmp_path, monkeypatch, record):
    gate = tmp_path / "stacks.json"
    gate.write_text("[]")
    assert json.loads(matrix(tmp_path, monkeypatch, "--stacks-from", str(gate)).out) == {"include": []}
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake, "--yes", "--stacks-from", str(gate), record=record)
    assert result.code == 0 and "nothing to roll out" in result.out
    assert fake.calls == []


@pytest.mark.parametrize(("argv", "message"), [
    (("--stacks-from", "{path}/missing.json"), "not readable as JSON"),
    (("--stacks-from", "{path}/object.json"), "give a JSON list of stack names"),
    (("--stack", "shared-nope"), "unknown stack(s) ['shared-nope']"),
    (("--tenant", "nobody"), "unknown tenant(s) ['nobody']"),
    (("--parallel", "0"), "not a whole number of at least 1"),
    (("--lock-retries", "-1"), "not a whole number of at least 0"),
    (("--resume", "{path}/a.json", "--record", "{path}/b.json"), "give --resume or --record, not both"),
], ids=["gate-missing", "gate-object", "stack", "tenant", "parallel", "retries", "resume-and-record"])
def test_bad_input_exits_2_and_runs_nothing(tmp_path, monkeypatch, argv, message):
    (tmp_path / "object.json").write_text('{"stacks": []}')
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake, "--yes", *(a.format(path=tmp_path) for a in argv))
    assert result.code == 2 and message in result.err, result.err
    assert fake.calls == []


def test_rollout_needs_yes(tmp_path, monkeypatch):
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake)
    assert result.code == 2 and "then add --yes" in result.err and fake.calls == []


def test_preview_rollout_needs_no_yes_and_runs_previews(tmp_path, monkeypatch, record):
    fake = FakePulumi()
    result = rollout(tmp_path, monkeypatch, fake, "--action", "preview", record=record)
    assert result.code == 0, result.err
    assert not fake.ran("up") and len(fake.ran("preview")) == 5
    assert read(record)["action"] == "preview"


def test_without_a_pulumi_cli_nothing_is_written(tmp_path, monkeypatch, record):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_cli("rollout", "--registry", str(REGISTRY), "--yes", "--record", str(record))
    assert result.code == 2 and "the Pulumi CLI is needed" in result.err
    assert not record.parent.exists()


# --- the deploy workflow runs exactly what these tests cover ----------------------------------
WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "deploy.yml"


def test_every_selection_has_a_single_canary_and_at_most_three_waves(fleet):
    # deploy.yml has one job per wave, three of them: the default plan must never need more.
    for mask in range(1, 2 ** len(fleet)):
        chosen = [s for i, s in enumerate(fleet) if mask >> i & 1]
        plan = rollout_module.default_plan(chosen)
        kinds = [s.kind for wave in plan for s in wave]
        assert 1 <= len(plan) <= 3 and len(plan[0]) == 1
        assert sorted(s.name for w in plan for s in w) == sorted(s.name for s in chosen)
        assert kinds == sorted(kinds, key=lambda k: k != "shared")  # cells before dedicated


def test_the_deploy_workflow_runs_one_job_per_wave_in_order():
    import yaml

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    select = jobs["select"]
    assert select["outputs"]["waves"] == "${{ steps.waves.outputs.waves }}"
    for number in (1, 2, 3):
        job = jobs[f"wave-{number}"]
        assert select["outputs"][f"wave{number}"] == f"${{{{ steps.waves.outputs.wave{number} }}}}"
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.select.outputs.wave{number}) }}}}"
        assert job["strategy"]["fail-fast"] is False  # a wave's other shares finish
        assert job["environment"] == "production"
        assert job["if"] == f"needs.select.outputs.wave{number} != ''"
        needs = [job["needs"]] if isinstance(job["needs"], str) else job["needs"]
        assert needs == (["select"] if number == 1 else ["select", f"wave-{number - 1}"])
        scripts = "\n".join(step.get("run", "") for step in job["steps"])
        assert "tenantctl rollout --yes --waves all" in scripts
        assert "--no-policy" not in scripts


def test_the_deploy_workflows_tenantctl_commands_parse():
    import shlex

    import yaml

    from tenantctl.cli import build_parser

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    scripts = [step["run"] for job in jobs.values() for step in job["steps"] if "run" in step]
    commands = [line.strip() for script in scripts for line in script.replace("\\\n", " ").splitlines()
                if line.strip().startswith("tenantctl ")]
    assert any(c.startswith("tenantctl rollout") for c in commands)
    for command in commands:
        argv = shlex.split(command.replace('"${args[@]}"', "--stack shared-dev").split(">")[0])[1:]
        args = build_parser().parse_args([a.replace('"', "") for a in argv])
        assert args.command in {"validate", "plan", "rollout"}, command
