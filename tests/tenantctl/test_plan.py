"""The offline plan of the sample fleet: shape of plan.json, manifests, stack membership."""

from __future__ import annotations

import re

import yaml

from tenantctl.mock_outputs import ACCOUNT_ID
from tenantctl.planner import PLAN_VERSION
from tenants.loader import load_registry
from tenants.stacks import fleet_stacks


def test_plan_succeeds_without_mandatory_violations(sample_plan):
    assert sample_plan.result.code == 0, sample_plan.result.out[-3000:]
    assert "policy: 0 mandatory" in sample_plan.result.out


def test_plan_json_has_the_documented_shape(sample_plan):
    doc = sample_plan.document
    assert doc["version"] == PLAN_VERSION
    assert doc["mock"]["accountId"] == ACCOUNT_ID
    for stack in doc["stacks"]:
        assert set(stack) == {"name", "kind", "tenants", "hosts", "resources", "violations"}
        assert stack["kind"] in ("shared", "dedicated")
        # Host ownership for the host rules: each of the stack's tenants and its host names.
        assert set(stack["hosts"]) == set(stack["tenants"])
        assert all(h and all(isinstance(x, str) for x in h) for h in stack["hosts"].values())
        for resource in stack["resources"]:
            assert {"urn", "type", "name", "parent", "inputs", "options"} <= set(resource)
            assert {"protect", "retainOnDelete", "dependsOn", "provider", "aliases",
                    "ignoreChanges"} <= set(resource["options"])
        for violation in stack["violations"]:
            assert set(violation) == {"policy", "severity", "enforcement", "urn", "message"}


def test_every_tenant_is_planned_in_exactly_one_stack(sample_plan):
    planned = [t for s in sample_plan.document["stacks"] for t in s["tenants"]]
    assert sorted(planned) == sorted(t.id for t in load_registry().tenants)
    kinds = {s["name"]: s["kind"] for s in sample_plan.document["stacks"]}
    assert kinds == {s.name: s.kind for s in fleet_stacks(load_registry(), "prod")}


def test_urns_are_unique_and_parents_exist(sample_plan):
    for stack in sample_plan.document["stacks"]:
        urns = [r["urn"] for r in stack["resources"]]
        assert len(urns) == len(set(urns))
        for r in stack["resources"]:
            assert r["parent"] is None or r["parent"] in urns, r["urn"]
            assert all(d in urns for d in r["options"]["dependsOn"]), r["urn"]


def test_no_secret_value_reaches_the_plan(sample_plan):
    text = (sample_plan.out / "plan.json").read_text()
    assert "BEGIN RSA" not in text
    assert not re.search(r'(password|kubeconfig|token)": "(?!\[secret\])', text, re.IGNORECASE)
    assert '"[secret]"' in text  # the masked values are there, as masks


def test_manifests_are_written_per_stack(sample_plan):
    root = sample_plan.out / "manifests"
    for stack in sample_plan.document["stacks"]:
        objects = [r for r in stack["resources"] if r["type"].startswith("kubernetes:")
                   and r["inputs"].get("kind") and "helm.sh" not in r["type"]]
        files = list((root / stack["name"]).rglob("*.yaml"))
        assert len(files) == len(objects), stack["name"]
        for f in files:
            obj = yaml.safe_load(f.read_text())
            assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"]


def _floats(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _floats(v)
    elif isinstance(value, list):
        for v in value:
            yield from _floats(v)
    elif isinstance(value, float):
        yield value


def test_integers_stay_integers_in_plan_and_manifests(fixture_fleet_plan):
    integral = [f for s in fixture_fleet_plan.document["stacks"] for r in s["resources"]
                for f in _floats(r["inputs"]) if f.is_integer()]
    assert integral == []
    text = "\n".join(p.read_text() for p in (fixture_fleet_plan.out / "manifests").rglob("deployment.*.yaml"))
    assert re.search(r"containerPort: \d+\n", text) and not re.search(r"(Port|User|Surge): \d+\.0\b", text)


def test_manifests_mark_values_the_mock_engine_invented(fixture_fleet_plan):
    stack = fixture_fleet_plan.document["stacks"][0]
    dependent = next(r for r in stack["resources"] if r["type"] == "kubernetes:core/v1:ServiceAccount"
                     and r["options"].get("propertyDependencies"))
    name, namespace = dependent["inputs"]["metadata"]["name"], dependent["inputs"]["metadata"]["namespace"]
    root = fixture_fleet_plan.out / "manifests" / stack["name"]
    path = root / namespace / f"serviceaccount.core-{name}.yaml"
    head = path.read_text().splitlines()[:3]
    assert any(line.startswith("# mock values:") for line in head), head
    plain = next(r for r in stack["resources"] if r["type"] == "kubernetes:core/v1:Namespace")
    ns_path = (fixture_fleet_plan.out / "manifests" / stack["name"] / "_cluster"
               / f"namespace.core-{plain['inputs']['metadata']['name']}.yaml")
    assert not ns_path.read_text().startswith("# mock values")
