"""The migration copier's grant: narrow, only while a tenant moves, and caught by the pack otherwise.

The hostile cases come first: a copier grant left on a bucket or key that is not one side
of a move in progress (ISO-DATA-05/06), and the same grant naming another tenant's role
(ISO-IAM-04). Then what the documents grant, and when the registry's views carry it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components import iam_documents as d
from components.context import TenantContext
from components.storage import copy_grant, copy_tags
from policy.rules import iso_data_05, iso_data_06, iso_iam_04
from tenantctl import migrate_plan as mp
from tenants import naming, placements
from tenants.loader import load_registry
from tenants.migration import Target
from tenants.models import Tier
from tests.components import policy_lint
from tests.policy import cases
from tests.policy import fixtures as f
from tests.tenantctl.migrate_support import CLUSTER_ACCOUNT, walk_registry

COPIER_ACCOUNT = "567890123456"
COPIER = d.deploy_role_arn("aws", COPIER_ACCOUNT, f.ENV)
ROLES = [f"arn:aws:iam::{f.ACCOUNT}:role/tp-{f.ENV}-acme-fileserver",
         f"arn:aws:iam::{f.ACCOUNT}:role/tp-{f.ENV}-acme-chatbot"]
ADMIN = d.platform_admin_role_arn("aws", f.ACCOUNT, f.ENV)
BUCKET = d.bucket_arn("aws", f"tp-{f.ENV}-acme-files")
KEY = f.key_arn("acme")


def grant(side: str, role: str = COPIER) -> d.CopyGrant:
    return d.CopyGrant(role_arn=role, account_id=COPIER_ACCOUNT, side=side)


def bucket_policy(side: str | None, role: str = COPIER) -> dict[str, Any]:
    return d.files_bucket_policy(bucket=BUCKET, key_arn=KEY, tenant_role_arns=ROLES, deployer_role_arn=ADMIN,
                                 copier=grant(side, role) if side else None)


def key_policy(side: str | None, role: str = COPIER) -> dict[str, Any]:
    return d.tenant_key_policy(partition="aws", account_id=f.ACCOUNT, region=f.REGION, tenant_role_arns=ROLES,
                               admin_role_arn=ADMIN, copier=grant(side, role) if side else None)


# --- the pack: hostile first ------------------------------------------------------------------
def _with_grant(side: str | None, tag: str | None, role: str = COPIER) -> cases.Resources:
    """The baseline cell, acme's files bucket and key carrying the copier's grant of ``side``."""
    stack = f.shared_stack()
    tags = {**f.tags("acme"), **({naming.TAG_MIGRATION_COPY: tag} if tag else {})}
    files = f.changed(f.find(stack, "aws:s3/bucket:Bucket", "acme-files-bucket"), ["tags"], tags)
    key = f.find(stack, "aws:kms/key:Key", "acme-files-key")
    key = f.changed(f.changed(key, ["tags"], tags), ["policy"], json.dumps(key_policy(side, role)))
    document = json.dumps(bucket_policy(side, role))
    policy = f.resource("aws:s3/bucketPolicy:BucketPolicy", "acme-files-policy", {
        "bucket": f"tp-{f.ENV}-acme-files", "policy": document}, depends_on=[files])
    return [*f.replace(f.replace(stack, files), key), policy]


def _messages(resources: cases.Resources, rule: str) -> list[tuple[str, str]]:
    return sorted((v["urn"].rsplit("::", 1)[-1], v["message"])
                  for v in cases.evaluate(resources) if v["policy"] == rule)


@pytest.mark.parametrize("side", ["source", "target"])
def test_a_copier_grant_left_after_the_move_is_a_violation(side):
    resources = _with_grant(side, tag=None)  # the registry no longer says the tenant moves
    assert _messages(resources, "ISO-DATA-05") == [("acme-files-policy", iso_data_05.MSG_COPY_GRANT)]
    assert _messages(resources, "ISO-DATA-06") == [("acme-files-key", iso_data_06.MSG_COPY_GRANT)]


def test_the_copier_grant_given_to_another_tenants_role_is_a_violation():
    bolt = f"arn:aws:iam::{f.ACCOUNT}:role/tp-{f.ENV}-bolt-fileserver"
    resources = _with_grant("source", tag="source", role=bolt)
    found = _messages(resources, "ISO-IAM-04")
    assert ("acme-files-policy", iso_iam_04.MSG_FOREIGN_REFERENCE) in found, found
    assert ("acme-files-key", iso_iam_04.MSG_FOREIGN_REFERENCE) in found, found


@pytest.mark.parametrize("side", ["source", "target"])
def test_the_grant_of_a_move_in_progress_passes_the_pack(side):
    resources = _with_grant(side, tag=side)
    for rule in ("ISO-DATA-05", "ISO-DATA-06", "ISO-IAM-04", "ISO-IAM-03"):
        assert _messages(resources, rule) == [], rule


def test_a_tag_of_no_side_does_not_excuse_a_grant():
    assert _messages(_with_grant("source", tag="yes"), "ISO-DATA-05") == [
        ("acme-files-policy", iso_data_05.MSG_COPY_GRANT)]


# --- the documents ----------------------------------------------------------------------------
def _denied(policy: dict[str, Any], principal: str, action: str) -> bool:
    """Whether a Deny of the policy (over HTTPS) applies to ``principal`` doing ``action``."""
    for s in policy["Statement"]:
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        if s["Effect"] != "Deny" or action not in actions:
            continue
        exempt = s.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn")
        if exempt is not None and principal not in exempt:
            return True
    return False


def _allowed(policy: dict[str, Any], principal: str, action: str) -> bool:
    return any(s["Effect"] == "Allow" and s["Principal"] == {"AWS": principal} and action in s["Action"]
               for s in policy["Statement"])


@pytest.mark.parametrize(("side", "actions"), [("source", d.COPY_SOURCE_ACTIONS),
                                               ("target", d.COPY_TARGET_ACTIONS)])
def test_the_copier_gets_exactly_its_sides_actions(side, actions):
    policy = bucket_policy(side)
    for action in {*d.S3_DATA_ACTIONS, *actions}:
        reaches = _allowed(policy, COPIER, action) and not _denied(policy, COPIER, action)
        assert reaches == (action in actions), (side, action)
    for action in d.S3_DATA_ACTIONS:  # the tenant's roles keep everything; nobody else gains
        assert not _denied(policy, ROLES[0], action)
        assert _denied(policy, "arn:aws:iam::999999999999:role/other", action)
    # Every write is still held to the tenant's key, the copier's included (no principal exemption).
    assert {s["Sid"] for s in policy["Statement"] if s["Sid"] in ("DenyOtherEncryption", "DenyOtherKeys")
            and s["Principal"] == "*" and "aws:PrincipalArn" not in json.dumps(s)} == {
        "DenyOtherEncryption", "DenyOtherKeys"}


def test_the_copier_uses_the_key_only_through_s3_from_its_account():
    source, target = key_policy("source")["Statement"][0], key_policy("target")["Statement"][0]
    assert source["Action"] == ["kms:Decrypt"] and target["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    for s in (source, target):
        assert s["Principal"] == {"AWS": COPIER}
        assert s["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{f.REGION}.amazonaws.com",
                                                   "kms:CallerAccount": COPIER_ACCOUNT}}
    assert key_policy(None) == d.tenant_key_policy(partition="aws", account_id=f.ACCOUNT, region=f.REGION,
                                                   tenant_role_arns=ROLES, admin_role_arn=ADMIN)


@pytest.mark.parametrize("side", ["source", "target"])
def test_the_grants_pass_parliament(side):
    assert policy_lint.findings(bucket_policy(side)) == []
    alias = f"arn:aws:kms:{f.REGION}:{f.ACCOUNT}:alias/tp/{f.ENV}/acme/files"  # what the admin names
    assert policy_lint.findings(key_policy(side), key_resources=[KEY, alias]) == []


def test_the_copier_is_neither_a_tenant_role_nor_the_deployer():
    for role in (ROLES[0], ADMIN):
        with pytest.raises(ValueError, match="neither a tenant role nor the deployer"):
            bucket_policy("source", role)
    with pytest.raises(ValueError, match="source or the target"):
        grant("both")


# --- when the registry's views carry it -------------------------------------------------------
def _grants(registry: Path) -> dict[int, tuple[d.CopyGrant | None, dict[str, str]]]:
    reg = load_registry(registry)
    out = {}
    for view in placements.views(reg.tenant("alpha"), reg.settings):
        ctx = TenantContext(tenant=view, environment="prod")
        out[view.record.generation] = (copy_grant(ctx, "aws"), copy_tags(ctx, "aws"))
    return out


def test_the_grant_exists_only_while_the_tenant_moves(tmp_path):
    registry = walk_registry(tmp_path / "registry")
    assert _grants(registry) == {1: (None, {})}
    move = mp.decide(load_registry(registry), "alpha", Target(Tier.CLUSTER, account=CLUSTER_ACCOUNT), "prod")
    mp.apply_record(registry, move)
    copier = d.deploy_role_arn("aws", CLUSTER_ACCOUNT, "prod")  # the move's dedicated account
    assert _grants(registry) == {
        1: (d.CopyGrant(copier, CLUSTER_ACCOUNT, "source"), {naming.TAG_MIGRATION_COPY: "source"}),
        2: (d.CopyGrant(copier, CLUSTER_ACCOUNT, "target"), {naming.TAG_MIGRATION_COPY: "target"})}
    mp.apply_switch(registry, move)  # the copy and its verification are done before the switch
    assert _grants(registry) == {1: (None, {}), 2: (None, {})}
