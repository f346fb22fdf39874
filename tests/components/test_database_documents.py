"""The database's policy documents and sizing decisions: exact, lint-clean, one tenant only."""

from __future__ import annotations

import fnmatch
import json

import pytest

from components import db_documents as d
from tenants import aws_limits, naming
from tenants.plans import DatabaseLimits, DatabaseSize, load_plans
from tests.components import policy_lint

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
PROXY = f"arn:aws:rds:{REGION}:{ACCOUNT}:db-proxy:prx-0123456789abcdef0"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tp/prod/acme/db-AbCdEf"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PROXY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/tp-prod-cell-apne1-01-db-proxy"


# --- the rds-db:connect ARN ------------------------------------------------------------------
def test_connect_arn_names_the_proxy_resource_id_and_the_tenant_user() -> None:
    assert d.rds_db_connect_arn(PROXY, "t_acme_app") == (
        f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:prx-0123456789abcdef0/t_acme_app")


def test_connect_arn_keeps_the_partition_and_region_of_the_proxy() -> None:
    proxy = "arn:aws-cn:rds:cn-north-1:123456789012:db-proxy:prx-0abc"
    assert d.rds_db_connect_arn(proxy, "t_x_app") == (
        "arn:aws-cn:rds-db:cn-north-1:123456789012:dbuser:prx-0abc/t_x_app")


@pytest.mark.parametrize("arn", [
    "tp-prod-cell-apne1-01-db",                                             # the proxy's name
    f"arn:aws:rds:{REGION}:{ACCOUNT}:db:tp-prod-cell-apne1-01-db",           # the instance
    f"arn:aws:rds:{REGION}:{ACCOUNT}:db-proxy:tp-prod-cell-apne1-01-db",     # name instead of prx id
    f"arn:aws:rds:{REGION}:{ACCOUNT}:db-proxy:prx-*",                        # a wildcard
    f"arn:aws:rds:{REGION}:{ACCOUNT}:db-proxy-endpoint:prx-ep-0123",         # a proxy endpoint
], ids=["name", "instance", "proxy-name-in-arn", "wildcard", "endpoint"])
def test_anything_but_a_proxy_arn_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="not an RDS Proxy ARN"):
        d.rds_db_connect_arn(arn, "t_acme_app")
    with pytest.raises(ValueError):
        d.proxy_resource_id(arn)


@pytest.mark.parametrize("user", ["*", "t_acme_app/*", "T_ACME", "", "t acme"], ids=str)
def test_wildcard_or_odd_users_are_refused(user: str) -> None:
    with pytest.raises(ValueError, match="not a database user"):
        d.rds_db_connect_arn(PROXY, user)


def test_proxy_resource_id() -> None:
    assert d.proxy_resource_id(PROXY) == "prx-0123456789abcdef0"


# --- documents -------------------------------------------------------------------------------
DOCS = {
    "connect": d.connect_policy(proxy_arn=PROXY, db_user="t_acme_app"),
    "proxy-secrets": d.proxy_secrets_policy(partition="aws", account_id=ACCOUNT, region=REGION,
                                            environment="prod", server_identifier="tp-prod-cell-c1-db"),
    "proxy-trust": d.proxy_assume_role_policy(account_id=ACCOUNT),
    "key": d.database_key_policy(partition="aws", account_id=ACCOUNT, region=REGION,
                                 admin_role_arn=f"arn:aws:iam::{ACCOUNT}:role/tp-prod-platform-admin"),
    "secret": d.tenant_secret_policy(tenant_id="acme", proxy_role_arn=PROXY_ROLE),
}
#: What each resource policy's "*" stands for, for parliament (alias operations act on the
#: key and its alias). The trust policy is not linted: parliament reads documents as
#: identity policies, and a trust policy has no Resource by definition.
ALIAS = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/tp/prod/acme/db"
RESOURCE_STAR = {"key": [KEY, ALIAS], "secret": [SECRET]}
LINTED = sorted(set(DOCS) - {"proxy-trust"})


@pytest.mark.parametrize("kind", LINTED, ids=LINTED)
def test_documents_pass_parliament(kind: str) -> None:
    assert policy_lint.findings(DOCS[kind], key_resources=RESOURCE_STAR.get(kind)) == []


def test_connect_policy_allows_exact_resources_only() -> None:
    assert policy_lint.allow_wildcards(DOCS["connect"]) == []


def test_connect_policy_is_one_action_on_one_arn() -> None:
    assert DOCS["connect"]["Statement"] == [{
        "Sid": "ConnectAsTenantUserThroughProxy", "Effect": "Allow", "Action": "rds-db:connect",
        "Resource": f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:prx-0123456789abcdef0/t_acme_app"}]


SECRETS_PATTERN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tp/prod/*/db-??????"


def test_proxy_reads_only_its_servers_tenant_secrets_and_decrypts_only_through_secrets_manager() -> None:
    """The one wildcard pair of the platform's identity policies, and what fences it: the
    secret names of tenant databases (suffix included), the server's tag, and for KMS the
    secret the decryption is for (Secrets Manager's encryption context)."""
    read, decrypt = DOCS["proxy-secrets"]["Statement"]
    assert read["Resource"] == SECRETS_PATTERN
    assert read["Condition"] == {"StringEquals": {
        f"aws:ResourceTag/{naming.TAG_DB_SERVER}": "tp-prod-cell-c1-db"}}
    assert (decrypt["Action"], decrypt["Resource"]) == (
        "kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*")
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:SecretARN": SECRETS_PATTERN}}
    assert policy_lint.allow_wildcards(DOCS["proxy-secrets"]) == [
        f"{read['Sid']}: resource {SECRETS_PATTERN}", f"{decrypt['Sid']}: resource {decrypt['Resource']}"]


def test_a_tenants_secret_name_matches_the_proxy_pattern_and_other_secrets_do_not() -> None:
    secret = naming.TenantNames("acme", "prod").db_secret
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}-AbCdEf"
    assert fnmatch.fnmatchcase(arn, SECRETS_PATTERN)
    for other in ("tp/dev/acme/db-AbCdEf", "tp/prod/acme/files-AbCdEf", "tp/prod/acme/db-AbCdEfG",
                  "rds!db-1234-AbCdEf"):
        assert not fnmatch.fnmatchcase(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{other}",
                                       SECRETS_PATTERN), other


def test_proxy_policy_is_one_size_for_any_number_of_tenants() -> None:
    """It takes no tenant: the 1st and the 200th tenant of a cell leave it as it is."""
    size = aws_limits.compact_policy_size(json.dumps(DOCS["proxy-secrets"], indent=2))
    assert size == len(json.dumps(DOCS["proxy-secrets"], separators=(",", ":")))
    assert size < aws_limits.IAM_ROLE_INLINE_POLICY_MAX_CHARS // 10


def test_key_policy_has_no_wildcard_principal_and_uses_only_through_database_services() -> None:
    statements = DOCS["key"]["Statement"]
    # The platform admin role administers; the account root only uses, through the services.
    assert statements[0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:role/tp-prod-platform-admin"}
    assert all(s["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"} for s in statements[1:])
    for s in statements[1:]:
        assert s["Condition"]["StringEquals"]["kms:ViaService"] == [
            f"rds.{REGION}.amazonaws.com", f"secretsmanager.{REGION}.amazonaws.com"]
        assert s["Condition"]["StringEquals"]["kms:CallerAccount"] == ACCOUNT
    assert statements[2]["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert "kms:Decrypt" not in statements[0]["Action"]  # administering is not using


def test_key_policy_for_secrets_only() -> None:
    doc = d.database_key_policy(partition="aws", account_id=ACCOUNT, region=REGION,
                                admin_role_arn=f"arn:aws:iam::{ACCOUNT}:role/tp-prod-platform-admin",
                                services=["secretsmanager"])
    assert doc["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"secretsmanager.{REGION}.amazonaws.com"]
    with pytest.raises(ValueError):
        d.database_key_policy(partition="aws", account_id=ACCOUNT, region=REGION, services=["s3"],
                              admin_role_arn=f"arn:aws:iam::{ACCOUNT}:role/tp-prod-platform-admin")


def test_secret_policy_denies_principals_of_other_tenants_and_lets_the_proxy_read() -> None:
    deny, allow = DOCS["secret"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "StringNotEquals": {"aws:PrincipalTag/tenant": "acme"}, "Null": {"aws:PrincipalTag/tenant": "false"}}
    assert allow["Principal"] == {"AWS": PROXY_ROLE} and allow["Action"] == "secretsmanager:GetSecretValue"


def test_proxy_trust_is_rds_for_this_account() -> None:
    (statement,) = DOCS["proxy-trust"]["Statement"]
    assert statement["Principal"] == {"Service": "rds.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_documents_name_only_this_tenant() -> None:
    other = d.connect_policy(proxy_arn=PROXY, db_user="t_globex_app")
    assert policy_lint.arns_in(DOCS["connect"]).isdisjoint(policy_lint.arns_in(other))


def test_proxy_auth_requires_iam_from_clients() -> None:
    assert d.proxy_auth(secret_arn=SECRET, description="tenant acme") == {
        "auth_scheme": "SECRETS", "iam_auth": "REQUIRED", "secret_arn": SECRET,
        "client_password_auth_type": "POSTGRES_SCRAM_SHA_256", "description": "tenant acme"}


# --- sizing ----------------------------------------------------------------------------------
PLANS = load_plans()
DEFAULT = DatabaseSize(instance_class="db.t4g.medium", allocated_storage_gib=20, backup_retention_days=7)


@pytest.mark.parametrize(("plans", "expected"), [
    ([], DEFAULT),
    (["starter"], PLANS["starter"].database),
    (["starter", "enterprise", "standard"], PLANS["enterprise"].database),
    (["standard", "starter", "starter"], PLANS["standard"].database),
], ids=["empty", "one", "largest-wins", "retention-max"])
def test_cell_size_covers_every_tenant_plan(plans: list[str], expected: DatabaseSize) -> None:
    sizes = [PLANS[p].database for p in plans]
    size = d.cell_database_size(sizes, DEFAULT)
    assert size.model_dump(exclude={"limits"}) == expected.model_dump(exclude={"limits"})
    assert all(size.backup_retention_days >= s.backup_retention_days for s in sizes)
    # The instance-wide temporary-file cap admits the largest plan's (roles carry their own).
    assert size.limits.temp_file_limit_mib == max((s.limits.temp_file_limit_mib for s in sizes),
                                                  default=DEFAULT.limits.temp_file_limit_mib)


def test_cell_retention_is_the_longest_even_if_from_a_smaller_plan() -> None:
    small_long = DatabaseSize(instance_class="db.t4g.medium", allocated_storage_gib=20,
                              backup_retention_days=30)
    big_short = DatabaseSize(instance_class="db.r6g.large", allocated_storage_gib=200,
                             backup_retention_days=7)
    assert d.cell_database_size([small_long, big_short], DEFAULT) == DatabaseSize(
        instance_class="db.r6g.large", allocated_storage_gib=200, backup_retention_days=30,
        limits=DatabaseLimits(temp_file_limit_mib=DatabaseLimits().temp_file_limit_mib))


@pytest.mark.parametrize(("allocated", "maximum"), [(20, 80), (500, 2000), (20000, 65536)])
def test_storage_autoscaling_bound(allocated: int, maximum: int) -> None:
    assert d.max_allocated_storage(allocated) == maximum


def test_login_secret_has_what_the_proxy_and_the_rotation_function_read() -> None:
    # RDS Proxy reads username/password; the single-user rotation function also needs the
    # engine and where to sign in (the instance: the proxy accepts only IAM tokens).
    assert d.login_secret(username="t_acme_app", password="pw-0123456789abcdef",
                          host="db.example.internal", port=5432) == {
        "engine": "postgres", "host": "db.example.internal", "port": 5432, "dbname": "app",
        "username": "t_acme_app", "password": "pw-0123456789abcdef"}
