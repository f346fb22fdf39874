"""The gate previews exactly the stacks a change touches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy import gate


def plan(**stacks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": 1, "stacks": [{"name": n, "kind": "shared", "tenants": [], "resources": r,
                                      "violations": []} for n, r in stacks.items()]}


A = [{"urn": "a", "inputs": {"x": 1}}]
B = [{"urn": "b", "inputs": {"y": 2}}]


@pytest.mark.parametrize(("base", "files", "expected"), [
    (plan(one=A, two=B), [], []),
    (plan(one=A, two=A), [], ["two"]),
    (plan(one=A), ["components/program.py"], ["two"]),
    (plan(one=A, two=B), ["policy/rules/iso_pod_01.py"], ["one", "two"]),
    (None, [], ["one", "two"]),
], ids=["unchanged", "resources-changed", "new-stack", "policy-changed", "no-base"])
def test_changed_stacks(base: dict[str, Any] | None, files: list[str], expected: list[str]) -> None:
    assert gate.changed_stacks(plan(one=A, two=B), base, files) == expected


def test_cli_writes_github_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    head, base, files, out = (tmp_path / n for n in ("head.json", "base.json", "files.txt", "out"))
    head.write_text(json.dumps(plan(one=A, two=B)))
    base.write_text(json.dumps(plan(one=A, two=A)))
    files.write_text("README.md\ntenants/registry/kaze-games.yaml\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    args = ["--head", str(head), "--base", str(base), "--changed-files", str(files), "--github-output"]
    assert gate.main(args) == 0
    assert json.loads(capsys.readouterr().out) == ["two"]
    assert out.read_text() == 'stacks=["two"]\n'


def test_unreadable_base_previews_every_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = tmp_path / "head.json"
    head.write_text(json.dumps(plan(one=A)))
    assert gate.main(["--head", str(head), "--base", str(tmp_path / "missing.json")]) == 0
    assert json.loads(capsys.readouterr().out) == ["one"]


def test_missing_head_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        gate.main(["--head", str(tmp_path / "nope.json")])
