"""Attributing names, ARNs, labels and tags to tenants."""

from __future__ import annotations

import pytest

from policy import tenancy
from tests.policy import fixtures as f

KNOWN = ["acme", "acme-corp", "bolt"]


@pytest.mark.parametrize(("value", "tenants"), [
    ("arn:aws:s3:::tp-prod-acme-files/*", {"acme"}),
    ("arn:aws:s3:::tp-prod-acme-corp-files/*", {"acme-corp"}),
    ("arn:aws:iam::123456789012:role/tp-dev-bolt-chatbot", {"bolt"}),
    ("system:serviceaccount:tenant-bolt:fileserver", {"bolt"}),
    ("arn:aws:rds-db:ap-northeast-1:1:dbuser:prx-1/t_acme_corp_app", {"acme-corp"}),
    ("t_acme", {"acme"}),
    ("arn:aws:kms:ap-northeast-1:1:alias/tp/prod/acme/files", {"acme"}),
    ("arn:aws:secretsmanager:ap-northeast-1:1:secret:tp/prod/bolt/db-AbCdEf", {"bolt"}),
    ("tp-prod-acme-files tp-prod-bolt-files", {"acme", "bolt"}),
    ("arn:aws:s3:::tp-prod-cell-apne1-01-models", set()),
    ("arn:aws:s3:::acme-files", set()),
    ("tp-prod-acmex-files", set()),
], ids=lambda v: v if isinstance(v, str) else ",".join(sorted(v)) or "none")
def test_tenants_named_in_physical_names(value: str, tenants: set[str]) -> None:
    assert tenancy.tenants_named_in(value, KNOWN) == tenants


@pytest.mark.parametrize(("name", "owned"), [
    ("tp-prod-acme-fileserver", True), ("tenant-acme-viewers", True), ("t_acme_app", True),
    ("tp/prod/acme/db", True), ("tp-prod-cell-apne1-01-admin", False), ("tenant-platform/fileserver", False),
    ("system:authenticated", False), ("tp-prod-platform-ci", False), ("arn:aws:iam::1:role/ops", False),
])
def test_looks_tenant_owned(name: str, owned: bool) -> None:
    assert tenancy.looks_tenant_owned(name) is owned


def test_tenant_and_tier_come_from_labels_tags_and_namespaces() -> None:
    dep = f.deployment("bolt")
    assert tenancy.tenant_of(dep["type"], dep["inputs"]) == "bolt"
    assert tenancy.tier_of(dep["type"], dep["inputs"]) == "P"
    unlabelled = f.changed(dep, ("metadata", "labels"), f.DELETE)
    assert tenancy.tenant_of(unlabelled["type"], unlabelled["inputs"]) == "bolt"
    assert tenancy.tier_of(unlabelled["type"], unlabelled["inputs"]) is None
    bucket = f.bucket("delta")
    assert tenancy.tier_of(bucket["type"], bucket["inputs"]) == "D"
    chart = f.vcluster_chart()
    assert tenancy.tenant_of(chart["type"], chart["inputs"]) == "cirrus"
    pool = f.changed(f.node_group(), ("tags",), f.DELETE)
    assert tenancy.tenant_of(pool["type"], pool["inputs"]) == "bolt"
    reserved = {"metadata": {"name": "tenant-platform"}}
    assert tenancy.tenant_of("kubernetes:core/v1:Namespace", reserved) is None
    assert tenancy.tenant_of("aws:s3/bucket:Bucket", {"bucket": "tp-prod-acme-files"}) is None
