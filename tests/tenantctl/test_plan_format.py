"""plan.json's text: one JSON document, a line per resource and per violation."""

from __future__ import annotations

import json
from pathlib import Path

from tenantctl import planner


def _document() -> dict:
    resources = [{"urn": f"urn:{i}", "type": "t", "inputs": {"nested": {"list": [i, "x\ny"]}, "ünï": "名"}}
                 for i in range(3)]
    violations = [{"policy": "ISO-X", "urn": None, "message": "two\nlines"}]
    return {"version": planner.PLAN_VERSION, "mock": {"accountId": "1"},
            "stacks": [{"name": "a", "resources": resources, "violations": violations},
                       {"name": "empty", "resources": [], "violations": []}]}


def test_the_text_is_the_document_and_each_resource_one_line() -> None:
    document = _document()
    text = "".join(planner.plan_lines(document))
    assert json.loads(text) == document
    lines = text.splitlines()
    for resource in document["stacks"][0]["resources"]:
        assert sum(json.dumps(resource) in line for line in lines) == 1
    assert sum('"policy": "ISO-X"' in line for line in lines) == 1


def test_a_plan_without_stacks_is_still_json() -> None:
    document = {**_document(), "stacks": []}
    assert json.loads("".join(planner.plan_lines(document))) == document


def test_written_plans_read_back(tmp_path: Path) -> None:
    plans = [planner.StackPlan("a", "shared", ["t1"], _document()["stacks"][0]["resources"], [],
                               hosts={"t1": ["h.example"]})]
    path = planner.write_plan(plans, tmp_path)
    (read,) = planner.read_plan(path)
    assert (read.name, read.resources, read.hosts) == ("a", plans[0].resources, plans[0].hosts)
