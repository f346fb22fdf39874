"""``tenantctl diff``: plan pairs for create, update, replace and delete, data loss called out."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tenantctl import diff_report
from tenantctl.diff import changed_paths, diff_plans
from tenantctl.replacements import covers

STACK = "shared-c1"
PREFIX = f"urn:pulumi:{STACK}::tenant-platform::"


def resource(type_: str, name: str, inputs: dict[str, Any], *, parent: str | None = None,
             protect: bool = False, retain: bool = False, aliases: tuple[str, ...] = (),
             custom: bool = True, **options: Any) -> dict[str, Any]:
    return {"urn": f"{PREFIX}{type_}::{name}", "type": type_, "name": name, "parent": parent,
            "custom": custom, "inputs": inputs,
            "options": {"protect": protect, "retainOnDelete": retain, "aliases": list(aliases),
                        "dependsOn": [], **options}}


def bucket(name: str = "acme-files-storage-files", physical: str = "tp-prod-acme-files",
           tenant: str = "acme", **kw: Any) -> dict[str, Any]:
    return resource("aws:s3/bucket:Bucket", name, {"bucket": physical, "tags": {"tenant": tenant}},
                    protect=True, retain=True, **kw)


def deployment(image: str = "repo@sha256:" + "1" * 64, name: str = "files", ns: str = "tenant-acme",
               selector: str = "files") -> dict[str, Any]:
    return resource("kubernetes:apps/v1:Deployment", f"acme-{name}-deployment", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"tenant": "acme"}},
        "spec": {"selector": {"matchLabels": {"app": selector}},
                 "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})


def plan(*resources: dict[str, Any], tenants: tuple[str, ...] = ("acme",)) -> dict[str, Any]:
    return {"version": 1, "stacks": [{"name": STACK, "kind": "shared", "tenants": list(tenants),
                                      "resources": list(resources), "violations": []}]}


def only(diff, action):
    found = [c for c in diff.changes if c.action == action]
    assert len(found) == 1, diff.changes
    return found[0]


def test_no_change_is_an_empty_diff():
    base = plan(bucket(), deployment())
    diff = diff_plans(base, copy.deepcopy(base))
    assert diff.changes == [] and diff.errors == []
    assert diff_report.text(diff).startswith("diff: no changes")


def test_a_new_resource_is_a_create_owned_by_its_tenant():
    diff = diff_plans(plan(bucket()), plan(bucket(), deployment()))
    change = only(diff, "create")
    assert (change.type, change.tenant) == ("kubernetes:apps/v1:Deployment", "acme")


def test_a_changed_image_is_an_update_naming_the_property():
    diff = diff_plans(plan(deployment()), plan(deployment(image="repo@sha256:" + "2" * 64)))
    change = only(diff, "update")
    assert change.properties == ("spec.template.spec.containers[0].image",)
    assert change.forced_by == ()


@pytest.mark.parametrize(("before", "after", "forced"), [
    (bucket(), bucket(physical="tp-prod-acme-files-2"), ("bucket",)),
    (deployment(), deployment(ns="tenant-other"), ("metadata.namespace",)),
    (deployment(), deployment(selector="other"), ("spec.selector.matchLabels.app",)),
    (resource("kubernetes:core/v1:ConfigMap", "acme-config", {"metadata": {"name": "c"}, "data": {"A": "1"}}),
     resource("kubernetes:core/v1:ConfigMap", "acme-config", {"metadata": {"name": "c"}, "data": {"A": "2"}}),
     ("data.A",)),
    (resource("random:index/randomPassword:RandomPassword", "acme-pw", {"length": 32}),
     resource("random:index/randomPassword:RandomPassword", "acme-pw", {"length": 40}), ("length",)),
    (resource("aws:iam/role:Role", "acme-role", {"name": "a", "path": "/"}, replaceOnChanges=["*"]),
     resource("aws:iam/role:Role", "acme-role", {"name": "a", "path": "/", "tags": {"x": "1"}},
              replaceOnChanges=["*"]), ("tags",)),
], ids=["bucket-name", "k8s-namespace", "deployment-selector", "configmap-data", "random",
        "replace-on-changes"])
def test_a_replace_is_predicted_where_the_engine_replaces(before, after, forced):
    change = only(diff_plans(plan(before), plan(after)), "replace")
    assert change.forced_by == forced


def test_deleting_a_protected_resource_is_a_data_loss_error():
    diff = diff_plans(plan(bucket(), deployment()), plan(deployment()))
    change = only(diff, "delete")
    assert change.protected and change.retained and change.tenant == "acme"
    assert diff.errors == [change]
    assert "[mandatory] data loss: delete of aws:s3/bucket:Bucket acme-files-storage-files" in \
        diff_report.text(diff)


def test_replacing_a_protected_resource_is_a_data_loss_error():
    diff = diff_plans(plan(bucket()), plan(bucket(physical="tp-prod-acme-files-v2")))
    assert [c.action for c in diff.errors] == ["replace"]


def test_recorded_data_destruction_allows_the_deletion():
    diff = diff_plans(plan(bucket(), deployment()), plan(deployment()), allowed_data_loss={"acme"})
    assert only(diff, "delete").loses_data and diff.errors == []


def test_recorded_destruction_of_another_tenant_does_not_allow_it():
    diff = diff_plans(plan(bucket()), plan(), allowed_data_loss={"other"})
    assert len(diff.errors) == 1


def test_deleting_an_unprotected_resource_is_no_error():
    diff = diff_plans(plan(deployment()), plan())
    assert only(diff, "delete").tenant == "acme" and diff.errors == []


def test_a_renamed_resource_with_an_alias_is_the_same_resource():
    old = bucket(name="acme-files")
    new = bucket(name="acme-files-storage-files", aliases=(old["urn"],))
    diff = diff_plans(plan(old), plan(new))
    assert diff.changes == []


def test_a_renamed_resource_without_an_alias_is_delete_and_create():
    diff = diff_plans(plan(bucket(name="acme-files")), plan(bucket(name="acme-files-storage-files")))
    assert sorted(c.action for c in diff.changes) == ["create", "delete"]
    assert len(diff.errors) == 1


def test_a_removed_stack_deletes_everything_in_it():
    base = plan(bucket())
    base["stacks"].append({"name": "tenant-zen", "kind": "dedicated", "tenants": ["zen"],
                           "resources": [bucket("zen-files-storage-files", "tp-prod-zen-files", "zen")]})
    diff = diff_plans(base, plan(bucket()))
    assert diff.removed_stacks == ["tenant-zen"]
    assert [(c.action, c.tenant) for c in diff.errors] == [("delete", "zen")]
    assert "stack tenant-zen is gone from the head plan" in diff_report.text(diff)


def test_components_are_not_changes_but_pass_their_tenant_to_children():
    component = resource("tenant-platform:index:TenantBucket", "acme-files-storage", {}, custom=False)
    child = resource("aws:s3/bucketVersioning:BucketVersioning", "acme-files-storage-versioning",
                     {"bucket": "b"}, parent=component["urn"])
    diff = diff_plans(plan(component), plan(component, child), allowed_data_loss=())
    assert [(c.type, c.tenant) for c in diff.changes] == [
        ("aws:s3/bucketVersioning:BucketVersioning", "acme")]


def test_untagged_resources_belong_to_the_tenant_their_name_starts_with():
    res = resource("aws:s3/bucketPolicy:BucketPolicy", "acme-corp-files-policy", {"bucket": "b"})
    diff = diff_plans(plan(tenants=("acme", "acme-corp")), plan(res, tenants=("acme", "acme-corp")))
    assert only(diff, "create").tenant == "acme-corp"


def test_markdown_has_a_summary_row_per_stack_and_tenant_and_the_errors():
    diff = diff_plans(plan(bucket(), deployment()), plan(deployment(image="x@sha256:" + "3" * 64)))
    body = diff_report.markdown(diff)
    assert "| `shared-c1` | acme | 0 | 1 | 0 | 1 |" in body
    assert ":x: data loss" in body and "```diff" in body


def test_json_form_round_trips():
    diff = diff_plans(plan(bucket()), plan())
    document = json.loads(json.dumps(diff.as_json()))
    assert document["summary"] == {"delete": 1} and document["errors"][0]["protected"] is True


@pytest.mark.parametrize(("force_new", "changed", "expected"), [
    ("spec.selector", "spec.selector.matchLabels.app", True),
    ("spec.containers[*].image", "spec.containers[3].image", True),
    ("spec.containers[*].image", "spec.containers[3].name", False),
    ("metadata.name", "metadata.namespace", False),
    ("roleRef", "roleRef", True),
    ("spec.template", "spec", False),
])
def test_force_new_paths_cover_changes_at_or_below_them(force_new, changed, expected):
    assert covers(force_new, changed) is expected


def test_changed_paths_walks_maps_and_lists():
    old = {"a": {"b": [1, 2]}, "c": "x", "d": [1]}
    new = {"a": {"b": [1, 3]}, "c": "x", "d": [1, 2], "e": None}
    assert list(changed_paths(old, new)) == ["a.b[1]", "d"]


def test_an_alias_spec_of_an_older_type_is_the_same_resource():
    old = resource("kubernetes:apps/v1beta1:Deployment", "acme-web", {"spec": {"replicas": 1}})
    new = resource("kubernetes:apps/v1:Deployment", "acme-web", {"spec": {"replicas": 1}},
                   aliases=({"name": "", "type": "kubernetes:apps/v1beta1:Deployment"},))
    assert diff_plans(plan(old), plan(new)).changes == []
