"""Every GitHub workflow survives a security review: zizmor's audits, and the project's rules.

The rules (each also one of zizmor's audits, checked here independently of its defaults):
actions pinned by full commit SHA; no workflow-wide permissions and explicit, least
permissions per job; checkout never persists its credentials; no ``${{ ... }}`` expression
expanded inside a ``run:`` script (values reach scripts through ``env``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text())


def _steps(workflow: dict[Any, Any]):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"policy-gate.yml"}


def _zizmor() -> str:
    found = shutil.which("zizmor") or str(Path(sys.executable).with_name("zizmor"))
    if not Path(found).exists():
        pytest.fail("zizmor is a test dependency (pip install -e '.[test]'); it is missing")
    return found


def test_zizmor_finds_nothing_in_any_workflow():
    run = subprocess.run([_zizmor(), "--offline", "--format", "json", "--no-progress",
                          *map(str, WORKFLOWS)], capture_output=True, text=True, check=False)
    findings = json.loads(run.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:4000]


def test_zizmor_does_catch_an_unpinned_action_and_an_expanded_expression(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    permissions: {contents: read}\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    run = subprocess.run([_zizmor(), "--offline", "--format", "json", "--no-progress", str(bad)],
                         capture_output=True, text=True, check=False)
    idents = {f["ident"] for f in json.loads(run.stdout or "[]")}
    assert {"unpinned-uses", "template-injection"} <= idents, idents


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_actions_are_pinned_by_commit(path):
    unpinned = [step["uses"] for _, step in _steps(_load(path))
                if "uses" in step and not step["uses"].startswith("./") and not PINNED.match(step["uses"])]
    assert unpinned == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_permissions_are_granted_per_job_only(path):
    workflow = _load(path)
    assert workflow.get("permissions") == {}, "the workflow-wide default must grant nothing"
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {job_id} must say what it needs"
        assert "write-all" not in str(job["permissions"]), job_id


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_checkout_never_persists_credentials(path):
    for job_id, step in _steps(_load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, job_id


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_no_expression_is_expanded_in_a_script(path):
    expanded = [(job_id, step.get("name", "")) for job_id, step in _steps(_load(path))
                if "${{" in str(step.get("run", ""))]
    assert expanded == []


GATE = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "policy-gate.yml"


def _runs(job: dict[Any, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def test_the_gate_plans_only_what_changed_in_shards_and_merges_one_verdict():
    jobs = _load(GATE)["jobs"]
    assert "--changed-since" in _runs(jobs["select"]) and "--matrix" in _runs(jobs["select"])
    plan = jobs["plan"]
    assert plan["needs"] == "select"
    assert plan["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.select.outputs.matrix) }}"
    assert "--shard \"$SHARD\"" in _runs(plan) and "--changed-since" in _runs(plan)
    merge = jobs["merge"]
    assert set(merge["needs"]) == {"select", "plan"}
    # Every shard, and exactly the number selected: a lost shard fails the merge.
    assert "merge-plans" in _runs(merge) and "--shards \"$SHARDS\"" in _runs(merge)
    assert jobs["preview"]["needs"] == "merge" and jobs["comment"]["needs"] == "merge"


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_jobs_that_read_the_base_ref_check_out_its_history(path):
    for job_id, job in _load(path)["jobs"].items():
        if any(flag in _runs(job) for flag in ("--changed-since", "--base", "git diff")):
            checkouts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
            assert checkouts and all(s["with"].get("fetch-depth") == 0 for s in checkouts), job_id
