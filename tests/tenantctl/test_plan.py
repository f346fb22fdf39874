"""The offline plan of the sample fleet: shape of plan.json, manifests, stack membership."""

from __future__ import annotations

import re

import yaml

from tenants.loader import load_registry


def test_plan_succeeds_without_mandatory_violations(sample_plan):
    assert sample_plan.result.code == 0, sample_plan.result.out[-3000:]
    assert "policy: 0 mandatory" in sample_plan.result.out


def test_plan_json_has_the_documented_shape(sample_plan):
    doc = sample_plan.document
    assert doc["version"] == 1
    for stack in doc["stacks"]:
        assert set(stack) == {"name", "kind", "tenants", "resources", "violations"}
        assert stack["kind"] in ("shared", "dedicated")
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
    assert kinds == {"shared-apne1-01": "shared", "shared-apne1-02": "shared", "shared-dev": "shared",
                     "shared-use1-01": "shared", "tenant-aozora-health": "dedicated",
                     "tenant-minato-bank": "dedicated"}


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
