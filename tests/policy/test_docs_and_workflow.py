"""docs/policy.md lists every rule as implemented; the CI workflow runs the documented gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policy.rule import StackRule
from policy.rules import ALL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    return yaml.safe_load((ROOT / ".github/workflows/policy-gate.yml").read_text())


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_docs_list_every_rule_as_implemented() -> None:
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[1:-1]]
            for line in (ROOT / "docs/policy.md").read_text().splitlines() if line.startswith("| ISO-")}
    for rule in ALL:
        kind = "stack" if isinstance(rule, StackRule) else "resource"
        assert rows.get(rule.id) == [rule.id, rule.severity, rule.tiers, kind, rule.description], rule.id
    assert len(rows) == len(ALL)


def test_gate_runs_on_pull_requests_and_fails_on_mandatory_violations(workflow: dict[Any, Any]) -> None:
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    jobs = workflow["jobs"]
    assert "python -m pytest tests/policy" in _runs(jobs["pack"])
    assert "tenantctl plan --changed-since" in _runs(jobs["select"])
    assert "--shard \"$SHARD\"" in _runs(jobs["plan"])  # each shard planned with the pack
    merge = jobs["merge"]  # the one verdict: exit 1 on any mandatory violation of any shard
    assert set(merge["needs"]) == {"select", "plan"}
    assert "tenantctl merge-plans out/plan" in _runs(merge)
    assert "python -m policy.gate --head out/plan/plan.json" in _runs(merge)


def test_preview_needs_cloud_secrets_and_uses_the_policy_pack(workflow: dict[Any, Any]) -> None:
    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "merge"
    assert "secrets.AWS_ROLE_TO_ASSUME" in preview["env"]["HAS_CLOUD"]
    cloud_steps = [s for s in preview["steps"] if s.get("name") != "No cloud credentials"]
    assert all(s.get("if") == "env.HAS_CLOUD == 'true'" for s in cloud_steps)
    assert 'tenantctl preview --stack "$STACK"' in _runs(preview)
    assert preview["env"]["STACK"] == "${{ matrix.stack }}"
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.merge.outputs.stacks) }}"
