"""policy.reach: which tenants an ARN or ARN pattern reaches, from the names tenants.naming gives."""

from __future__ import annotations

import pytest

from policy.reach import named_tenants, reaches_other_tenant
from tenants.naming import TenantNames

ENVS = ("prod",)
ACCT = "123456789012"
RDS = f"arn:aws:rds-db:ap-northeast-1:{ACCT}:dbuser:prx-a4b5b3624f9be65dd"
SM = f"arn:aws:secretsmanager:ap-northeast-1:{ACCT}:secret"
ALIAS = f"arn:aws:kms:ap-northeast-1:{ACCT}:alias"
ROLE = f"arn:aws:iam::{ACCT}:role"
#: The owner's database user, however naming spells it (id or opaque token).
USER = TenantNames("alpha", "prod").db_role

REACHES = [
    f"{RDS}/*", f"{RDS}/t*", f"{RDS}/t*_app", f"{RDS}/{USER[:3]}?{USER[4:]}",
    f"{RDS}/{USER[:-8]}*_app",
    f"arn:aws:rds-db:ap-northeast-1:{ACCT}:dbuser:*",
    "arn:aws:s3:::tp-prod-*", "arn:aws:s3:::tp-prod-*-files", "arn:aws:s3:::tp-prod-alpha-*",
    "arn:aws:s3:::tp-prod-?????-files/*", "arn:aws:s3:::*", "arn:aws:s3:::tp-*",
    f"{SM}:tp/prod/*", f"{SM}:tp/prod/alpha*", f"{SM}:*",
    f"{ALIAS}/tp/prod/*", f"{ALIAS}/tp/prod/alp*/files",
    f"{ROLE}/tp-prod-*", f"{ROLE}/tp-prod-*-fileserver", f"{ROLE}/*",
    "*", "arn:aws:*:*:*:*", "arn:*",
]
STAYS = [
    f"{RDS}/{USER}", f"arn:aws:rds-db:ap-northeast-1:{ACCT}:dbuser:*/{USER}", f"{RDS}/{USER[:-1]}?",
    "arn:aws:s3:::tp-prod-alpha-files/*", "arn:aws:s3:::tp-prod-alpha-files/files/*",
    "arn:aws:s3:::tp-prod-alpha-file?", "arn:aws:s3:::tp-prod-alpha-files",
    f"{SM}:tp/prod/alpha/db-*", f"{SM}:tp/prod/alpha/db-??????",
    f"{ALIAS}/tp/prod/alpha/*", f"{ROLE}/tp-prod-alpha-fileserver",
    f"{ROLE}/tp-prod-cell-f1-*", "arn:aws:route53:::hostedzone/*",
    "arn:aws:bedrock:ap-northeast-1::foundation-model/anthropic.*",
]


@pytest.mark.parametrize("pattern", REACHES)
def test_patterns_that_reach_another_tenant(pattern):
    assert reaches_other_tenant(pattern, "alpha", ENVS)


@pytest.mark.parametrize("pattern", STAYS)
def test_patterns_that_stay_within_the_tenant(pattern):
    assert not reaches_other_tenant(pattern, "alpha", ENVS)


def test_a_pattern_reaches_tenants_not_in_the_stack():
    # Whoever the owner is, t*_app matches every other tenant's database user.
    for owner in ("alpha", "zulu-corp", "a1b"):
        assert reaches_other_tenant(f"{RDS}/t*_app", owner, ENVS)
        assert reaches_other_tenant("arn:aws:s3:::tp-prod-*-files", owner, ENVS)


def test_the_templates_come_from_naming():
    names = TenantNames("zulu", "prod")
    for name in (names.files_bucket, names.db_secret):
        assert "zulu" in name
    assert reaches_other_tenant(f"arn:aws:s3:::{names.files_bucket[:-3]}*", "alpha", ENVS)


def test_literal_names_resolve_to_the_longest_known_id():
    known = frozenset({"acme", "acme-corp", "alpha"})
    assert named_tenants("arn:aws:s3:::tp-prod-acme-corp-files", known, ENVS) == {"acme-corp"}
    assert named_tenants(f"{RDS}/{TenantNames('acme-corp', 'prod').db_role}", known, ENVS) == {"acme-corp"}
    assert named_tenants(f"{RDS}/{TenantNames('acme', 'prod').db_role}", known, ENVS) == {"acme"}
    assert named_tenants(f"{ALIAS}/tp/prod/acme/files", known, ENVS) == {"acme"}
    assert named_tenants("tp-prod-cell-f1-db", known, ENVS) == set()
    assert named_tenants("tenant-alpha", known, ENVS) == {"alpha"}
    assert named_tenants("xtenant-alpha", known, ENVS) == set()
