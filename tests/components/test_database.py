"""CellDatabase and TenantDatabase under the recording mock engine: every RDS, proxy, secret,
KMS and IAM input in both modes, including the exact ``rds-db:connect`` resource ARN."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components import versions
from components.database import (
    STORAGE_ALARM_FREE_FRACTION,
    CellDatabase,
    CellDatabaseArgs,
    ProxyAuthCollector,
    TenantDatabase,
    TenantDatabaseArgs,
)
from components.db_bootstrap import RoleLimits
from components.db_documents import (
    database_key_policy,
    max_allocated_storage,
    proxy_resource_id,
    proxy_secrets_policy,
)
from components.program import build_stack
from tenantctl.mock_engine import ProgramRun, RecordedResource, run_program
from tenants import naming
from tenants.loader import load_registry
from tenants.naming import WORKLOADS, CellNames
from tenants.plans import load_plans
from tenants.stacks import fleet_stacks
from tests.conftest import FIXTURE_FLEET
from tests.factories import ACCOUNT_ID, make_cluster_ref, make_context

REGION = "ap-northeast-1"
CELL = CellNames("apne1-01", "prod")
CELL_TENANTS = ("acme", "globex")
PLANS = load_plans()


def workload_roles(tenant: str) -> list[str]:
    return [f"tp-prod-{tenant}-{w}" for w in WORKLOADS]


def cell_program() -> None:
    cluster = make_cluster_ref(runner_security_group_ids=("sg-runner",))
    cell = CellDatabase("cell-db", CellDatabaseArgs(
        names=CELL, cluster=cluster, size=PLANS["standard"].database, tenant_ids=CELL_TENANTS))
    for tenant in CELL_TENANTS:
        TenantDatabase(f"{tenant}-db", TenantDatabaseArgs(
            ctx=make_context(tenant), cluster=cluster, mode="schema", cell=cell.ref,
            workload_role_names=workload_roles(tenant)))


def dedicated_program() -> None:
    cluster = make_cluster_ref("tp-prod-initech", runner_security_group_ids=("sg-runner",))
    TenantDatabase("initech-db", TenantDatabaseArgs(
        ctx=make_context("initech", tier="cluster", plan="enterprise"), cluster=cluster, mode="dedicated",
        workload_role_names=workload_roles("initech")))


@pytest.fixture(scope="module")
def cell_run() -> ProgramRun:
    return run_program(cell_program)


@pytest.fixture(scope="module")
def dedicated_run() -> ProgramRun:
    return run_program(dedicated_program)


def policy(resource: RecordedResource, key: str = "policy") -> Any:
    return json.loads(resource.inputs[key])


def arn_of(run: ProgramRun, name: str) -> str:
    return str(run.named(name).outputs["arn"])


# --- the cell's server -------------------------------------------------------------------
def test_cell_database_children(cell_run: ProgramRun) -> None:
    cell = cell_run.named("cell-db")
    assert sorted((r.type, r.name) for r in cell_run.children_of(cell.urn)) == [
        ("aws:kms/alias:Alias", "cell-db-key-alias"), ("aws:kms/key:Key", "cell-db-key"),
        ("tenant-platform:index:DatabaseServer", "cell-db-server")]
    server = cell_run.named("cell-db-server")
    assert sorted(r.name for r in cell_run.children_of(server.urn)) == sorted(
        f"cell-db-server-{role}" for role in (
            "subnets", "params", "instance-sg", "proxy-sg", "rotation-sg", "instance-from-proxy",
            "instance-from-admin-0", "instance-from-rotation", "proxy-from-nodes", "proxy-to-instance",
            "rotation-to-instance", "rotation-to-secrets-manager", "instance", "proxy-role",
            "proxy-secrets", "proxy", "proxy-targets", "proxy-target", "free-storage"))


def test_cell_key_is_rotated_retained_and_named_for_the_cell(cell_run: ProgramRun) -> None:
    key = cell_run.named("cell-db-key")
    assert key.inputs["enableKeyRotation"] is True and key.inputs["bypassPolicyLockoutSafetyCheck"] is False
    assert policy(key) == database_key_policy(
        partition="aws", account_id=ACCOUNT_ID, region=REGION,
        admin_role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/tp-prod-platform-admin")
    assert (key.options["protect"], key.options["retainOnDelete"]) == (True, True)
    assert cell_run.named("cell-db-key-alias").inputs["name"] == "alias/tp/prod/cell-apne1-01/db"


def test_cell_instance_is_hardened(cell_run: ProgramRun) -> None:
    instance = cell_run.named("cell-db-server-instance")
    size = PLANS["standard"].database
    expected = {
        "identifier": "tp-prod-cell-apne1-01-db", "engine": "postgres",
        "engineVersion": versions.POSTGRES_ENGINE_VERSION, "autoMinorVersionUpgrade": False,
        "instanceClass": size.instance_class, "allocatedStorage": size.allocated_storage_gib,
        "maxAllocatedStorage": max_allocated_storage(size.allocated_storage_gib), "storageType": "gp3",
        "storageEncrypted": True, "kmsKeyId": arn_of(cell_run, "cell-db-key"), "multiAz": True,
        "publiclyAccessible": False, "dbSubnetGroupName": "tp-prod-cell-apne1-01-db",
        "vpcSecurityGroupIds": ["tp-prod-cell-apne1-01-db-instance-id"],
        "parameterGroupName": "tp-prod-cell-apne1-01-db-pg16", "port": 5432,
        "iamDatabaseAuthenticationEnabled": True, "dbName": "app", "username": "tpadmin",
        "manageMasterUserPassword": True, "masterUserSecretKmsKeyId": arn_of(cell_run, "cell-db-key"),
        "backupRetentionPeriod": size.backup_retention_days, "copyTagsToSnapshot": True,
        "deleteAutomatedBackups": False, "deletionProtection": True, "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "tp-prod-cell-apne1-01-db-final",
        "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": arn_of(cell_run, "cell-db-key"),
        "caCertIdentifier": versions.RDS_CA_CERT_IDENTIFIER,
        "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
    }
    assert {k: instance.inputs.get(k) for k in expected} == expected
    assert "password" not in instance.inputs  # RDS manages the master password
    assert instance.options["protect"] and instance.options["retainOnDelete"]
    assert instance.options["ignoreChanges"] == ["allocatedStorage"]
    assert instance.inputs["tags"] == {"cell": "apne1-01", "environment": "prod",
                                       "managed-by": "tenant-platform"}
    assert versions.POSTGRES_ENGINE_VERSION.startswith("16.")


def test_cell_subnets_and_parameters(cell_run: ProgramRun) -> None:
    subnets = cell_run.named("cell-db-server-subnets").inputs["subnetIds"]
    assert subnets == ["subnet-a", "subnet-b", "subnet-c"]
    params = cell_run.named("cell-db-server-params").inputs
    assert params["family"] == "postgres16"
    assert {p["name"]: (p["value"], p["applyMethod"]) for p in params["parameters"]} == {
        "rds.force_ssl": ("1", "immediate"), "ssl_min_protocol_version": ("TLSv1.2", "immediate"),
        "password_encryption": ("scram-sha-256", "immediate"), "log_connections": ("1", "immediate"),
        "log_disconnections": ("1", "immediate"),
        # The instance-wide cap on temporary files (kB): the standard plan's, the cell's largest here.
        "temp_file_limit": (str(PLANS["standard"].database.limits.temp_file_limit_mib * 1024), "immediate"),
        # pg_cron runs the tenant-limits watchdog in the application database (static: next reboot).
        "shared_preload_libraries": ("pg_stat_statements,pg_cron", "pending-reboot"),
        "cron.database_name": ("app", "pending-reboot")}


@pytest.mark.parametrize("run_name", ["cell", "dedicated"])
def test_free_storage_alarm_watches_the_instance(cell_run: ProgramRun, dedicated_run: ProgramRun,
                                                 run_name: str) -> None:
    run = cell_run if run_name == "cell" else dedicated_run
    (instance,) = run.of_type("aws:rds/instance:Instance")
    (alarm,) = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    allocated = instance.inputs["allocatedStorage"]
    assert {k: alarm.inputs[k] for k in ("namespace", "metricName", "statistic", "comparisonOperator",
                                         "threshold", "dimensions", "treatMissingData")} == {
        "namespace": "AWS/RDS", "metricName": "FreeStorageSpace", "statistic": "Minimum",
        "comparisonOperator": "LessThanThreshold",
        "threshold": STORAGE_ALARM_FREE_FRACTION * allocated * 1024 ** 3,
        "dimensions": {"DBInstanceIdentifier": instance.inputs["identifier"]},
        "treatMissingData": "breaching"}


def test_security_groups_admit_only_nodes_to_proxy_and_proxy_runner_and_rotation_to_instance(
        cell_run: ProgramRun) -> None:
    rules = {r.name.removeprefix("cell-db-server-"): r.inputs for r in cell_run.resources
             if r.type.startswith("aws:vpc/securityGroup")}
    instance_sg, proxy_sg = "tp-prod-cell-apne1-01-db-instance-id", "tp-prod-cell-apne1-01-db-proxy-id"
    rotation_sg = "tp-prod-cell-apne1-01-db-rotation-id"
    assert {name: (i["securityGroupId"], i.get("referencedSecurityGroupId", i.get("cidrIpv4")),
                   i["ipProtocol"], i["fromPort"], i["toPort"]) for name, i in rules.items()} == {
        "instance-from-proxy": (instance_sg, proxy_sg, "tcp", 5432, 5432),
        "instance-from-admin-0": (instance_sg, "sg-runner", "tcp", 5432, 5432),
        "instance-from-rotation": (instance_sg, rotation_sg, "tcp", 5432, 5432),
        "proxy-from-nodes": (proxy_sg, "sg-nodes", "tcp", 5432, 5432),
        "proxy-to-instance": (proxy_sg, instance_sg, "tcp", 5432, 5432),
        "rotation-to-instance": (rotation_sg, instance_sg, "tcp", 5432, 5432),
        # The Secrets Manager API has no security group: HTTPS out through the NAT gateway.
        "rotation-to-secrets-manager": (rotation_sg, "0.0.0.0/0", "tcp", 443, 443),
    }
    # Only the rotation group's HTTPS egress names a CIDR; every database port names a group.
    with_cidr = [n for n, i in rules.items() if "cidrIpv4" in i or "cidrIpv6" in i]
    assert with_cidr == ["rotation-to-secrets-manager"]
    for sg in cell_run.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert "ingress" not in sg.inputs and "egress" not in sg.inputs  # no inline (default) rules


def test_cell_proxy_requires_tls_and_iam_with_one_secret_per_tenant(cell_run: ProgramRun) -> None:
    proxy = cell_run.named("cell-db-server-proxy").inputs
    assert {k: proxy[k] for k in ("name", "engineFamily", "requireTls", "debugLogging", "roleArn",
                                  "vpcSubnetIds", "vpcSecurityGroupIds")} == {
        "name": "tp-prod-cell-apne1-01-db", "engineFamily": "POSTGRESQL", "requireTls": True,
        "debugLogging": False, "roleArn": "arn:aws:iam::123456789012:role/tp-prod-cell-apne1-01-db-proxy",
        "vpcSubnetIds": ["subnet-a", "subnet-b", "subnet-c"],
        "vpcSecurityGroupIds": ["tp-prod-cell-apne1-01-db-proxy-id"]}
    assert proxy["auths"] == [
        {"authScheme": "SECRETS", "iamAuth": "REQUIRED", "clientPasswordAuthType": "POSTGRES_SCRAM_SHA_256",
         "secretArn": arn_of(cell_run, f"{t}-db-secret"), "description": f"tenant {t}"} for t in CELL_TENANTS]
    target = cell_run.named("cell-db-server-proxy-target").inputs
    assert target == {"dbProxyName": "tp-prod-cell-apne1-01-db", "targetGroupName": "default",
                      "dbInstanceIdentifier": "tp-prod-cell-apne1-01-db"}


def test_proxy_role_trusts_rds_only(cell_run: ProgramRun) -> None:
    role = cell_run.named("cell-db-server-proxy-role")
    assert policy(role, "assumeRolePolicy")["Statement"] == [{
        "Sid": "RdsProxyAssumesRole", "Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}}]


@pytest.mark.parametrize("run_name", ["cell", "dedicated"])
def test_proxy_role_has_one_tag_scoped_policy_whatever_the_tenants(cell_run: ProgramRun,
                                                                   dedicated_run: ProgramRun,
                                                                   run_name: str) -> None:
    """Issue 12.4: no policy per tenant on the proxy role (IAM's 10,240-character quota)."""
    run = cell_run if run_name == "cell" else dedicated_run
    identifier = "tp-prod-cell-apne1-01-db" if run_name == "cell" else "tp-prod-initech-db"
    (only,) = run.of_type("aws:iam/rolePolicy:RolePolicy")
    assert (only.inputs["role"], only.inputs["name"]) == (
        f"{identifier}-proxy", f"{identifier}-tenant-secrets")
    assert policy(only) == proxy_secrets_policy(partition="aws", account_id=ACCOUNT_ID, region=REGION,
                                                environment="prod", server_identifier=identifier)
    # Every tenant secret of the server carries the tag the policy grants by.
    secrets = run.of_type("aws:secretsmanager/secret:Secret")
    assert secrets and {s.inputs["tags"][naming.TAG_DB_SERVER] for s in secrets} == {identifier}


# --- a tenant in schema mode -------------------------------------------------------------
def test_schema_mode_children(cell_run: ProgramRun) -> None:
    tenant = cell_run.named("acme-db")
    assert sorted((r.type, r.name) for r in cell_run.children_of(tenant.urn)) == [
        ("aws:iam/policy:Policy", "acme-db-connect"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "acme-db-connect-0"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "acme-db-connect-1"),
        ("aws:kms/alias:Alias", "acme-db-key-alias"),
        ("aws:kms/key:Key", "acme-db-key"),
        ("aws:secretsmanager/secret:Secret", "acme-db-secret"),
        ("aws:secretsmanager/secretPolicy:SecretPolicy", "acme-db-secret-policy"),
        ("aws:secretsmanager/secretRotation:SecretRotation", "acme-db-rotation"),
        ("aws:secretsmanager/secretVersion:SecretVersion", "acme-db-secret-value"),
        ("aws:serverlessrepository/cloudFormationStack:CloudFormationStack", "acme-db-rotation-function"),
        ("pulumi-python:dynamic/tenant-platform:TenantDatabaseBootstrap", "acme-db-bootstrap"),
        ("random:index/randomPassword:RandomPassword", "acme-db-password"),
    ]


@pytest.mark.parametrize("tenant", CELL_TENANTS)
def test_connect_policy_is_exactly_the_tenant_user_through_the_cell_proxy(cell_run: ProgramRun,
                                                                          tenant: str) -> None:
    proxy_arn = arn_of(cell_run, "cell-db-server-proxy")
    prx = proxy_resource_id(proxy_arn)
    assert prx.startswith("prx-") and prx != "prx-"
    doc = policy(cell_run.named(f"{tenant}-db-connect"))
    user = naming.db_login_role(tenant)  # opaque: the ARN does not name the tenant either
    assert re.fullmatch(rf"arn:aws:rds-db:{REGION}:{ACCOUNT_ID}:dbuser:prx-[0-9a-f]{{17}}/{user}",
                        doc["Statement"][0]["Resource"])
    assert tenant not in doc["Statement"][0]["Resource"]
    assert doc["Statement"] == [{
        "Sid": "ConnectAsTenantUserThroughProxy", "Effect": "Allow", "Action": "rds-db:connect",
        "Resource": f"arn:aws:rds-db:{REGION}:{ACCOUNT_ID}:dbuser:{prx}/{user}"}]
    connect = cell_run.named(f"{tenant}-db-connect").inputs
    assert connect["name"] == f"tp-prod-{tenant}-db-connect" and connect["tags"]["tenant"] == tenant
    attachments = [cell_run.named(f"{tenant}-db-connect-{i}").inputs for i in range(len(WORKLOADS))]
    assert attachments == [{"role": role, "policyArn": arn_of(cell_run, f"{tenant}-db-connect")}
                           for role in workload_roles(tenant)]


def test_tenant_secret_uses_the_tenant_key_and_is_retained(cell_run: ProgramRun) -> None:
    secret = cell_run.named("acme-db-secret")
    assert {k: secret.inputs[k] for k in ("name", "kmsKeyId", "recoveryWindowInDays")} == {
        "name": "tp/prod/acme/db", "kmsKeyId": arn_of(cell_run, "acme-db-key"), "recoveryWindowInDays": 30}
    assert secret.inputs["tags"]["tenant"] == "acme"
    assert (secret.options["protect"], secret.options["retainOnDelete"]) == (True, True)
    key = cell_run.named("acme-db-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.options["protect"] and key.options["retainOnDelete"]
    assert cell_run.named("acme-db-key-alias").inputs["name"] == "alias/tp/prod/acme/db"
    assert "*" not in json.dumps([s.get("Principal") for s in policy(key)["Statement"]])


def test_secret_value_is_secret_written_after_bootstrap_and_retained(cell_run: ProgramRun) -> None:
    value = cell_run.named("acme-db-secret-value")
    assert value.inputs["secretString"] == "[secret]"
    assert value.inputs["secretId"] == cell_run.named("acme-db-secret").id
    assert cell_run.named("acme-db-bootstrap").urn in value.options["dependsOn"]
    assert value.options["retainOnDelete"] is True
    # Written once: after that, rotation owns the password.
    assert value.options["ignoreChanges"] == ["secretString"]


@pytest.mark.parametrize("tenant", CELL_TENANTS)
def test_each_tenant_gets_its_own_rotation_function_every_30_days(cell_run: ProgramRun, tenant: str) -> None:
    function = cell_run.named(f"{tenant}-db-rotation-function")
    application, version = versions.SECRET_ROTATION_APPLICATION["aws"]
    assert {k: function.inputs[k] for k in ("name", "applicationId", "semanticVersion", "capabilities")} == {
        "name": f"tp-prod-{tenant}-db-rotation", "applicationId": application, "semanticVersion": version,
        "capabilities": ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]}
    assert application.endswith(":applications/SecretsManagerRDSPostgreSQLRotationSingleUser")
    assert function.inputs["parameters"] == {
        "endpoint": "https://secretsmanager.ap-northeast-1.amazonaws.com",
        "functionName": f"tp-prod-{tenant}-db-rotation",
        "vpcSubnetIds": "subnet-a,subnet-b,subnet-c",
        "vpcSecurityGroupIds": "tp-prod-cell-apne1-01-db-rotation-id",
        "kmsKeyArn": arn_of(cell_run, f"{tenant}-db-key"),  # its own key: it can read no other secret
        "excludeCharacters": "/@\"'\\:;,%",
    }
    assert function.inputs["tags"]["tenant"] == tenant
    rotation = cell_run.named(f"{tenant}-db-rotation")
    assert rotation.inputs == {
        "secretId": cell_run.named(f"{tenant}-db-secret").id,
        "rotationLambdaArn":
            f"arn:aws:lambda:ap-northeast-1:{ACCOUNT_ID}:function:tp-prod-{tenant}-db-rotation",
        "rotationRules": {"automaticallyAfterDays": 30}, "rotateImmediately": True}
    # The first rotation runs at once: only after the login exists and the secret holds its password.
    first_value = {cell_run.named(f"{tenant}-db-{part}").urn for part in ("secret-value", "bootstrap")}
    assert first_value <= set(rotation.options["dependsOn"])


def test_secret_policy_names_only_this_tenant(cell_run: ProgramRun) -> None:
    proxy_role = "arn:aws:iam::123456789012:role/tp-prod-cell-apne1-01-db-proxy"
    secret_policy = cell_run.named("acme-db-secret-policy")
    assert secret_policy.inputs["blockPublicPolicy"] is True
    deny, allow = policy(secret_policy)["Statement"]
    assert deny["Condition"]["StringNotEquals"] == {"aws:PrincipalTag/tenant": "acme"}
    assert allow["Principal"] == {"AWS": proxy_role}


def test_bootstrap_targets_the_cell_instance_with_the_master_secret_and_plan_limits(
        cell_run: ProgramRun) -> None:
    """Issue 12.7: the bootstrap gets the master secret's ARN, never the (rotating) password."""
    bootstrap = cell_run.named("acme-db-bootstrap")
    inputs = {k: v for k, v in bootstrap.inputs.items() if k != "__provider"}
    instance = cell_run.named("cell-db-server-instance")
    assert inputs == {
        "tenant_id": "acme", "host": instance.outputs["address"],
        "port": 5432, "dbname": "app", "admin_user": "tpadmin",
        "admin_secret_arn": instance.outputs["masterUserSecrets"][0]["secretArn"],
        "login_password": "[secret]", "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/certs/rds-global-bundle.pem", "grant_rds_iam": False,
        "limits": RoleLimits.from_plan(PLANS["standard"].database.limits).as_dict(),
        "role": naming.db_login_role("acme"), "schema": naming.db_schema_name("acme"),
        "owner_role": naming.db_owner_role("acme"), "database": "app",
        # Rewritten only if the bootstrap renames the login (a tenant onboarded under old names).
        "login_secret_arn": arn_of(cell_run, "acme-db-secret")}
    assert inputs["admin_secret_arn"].startswith("arn:aws:secretsmanager:")
    assert "admin_password" not in bootstrap.inputs
    assert bootstrap.options["additionalSecretOutputs"] == ["login_password"]
    assert {cell_run.named("cell-db-server-instance").urn,
            cell_run.named("cell-db-server-instance-from-admin-0").urn} <= set(bootstrap.options["dependsOn"])
    assert bootstrap.options["protect"] is False  # its delete only disables the login


def test_password_is_long_and_plain_ascii(cell_run: ProgramRun) -> None:
    password = cell_run.named("acme-db-password").inputs
    assert password["length"] == 40 and password["special"] is False


def test_no_resource_names_another_tenant(cell_run: ProgramRun) -> None:
    for r in cell_run.resources:
        if r.name.startswith("acme-db") and "dynamic" not in r.type:
            assert "globex" not in json.dumps(r.inputs), r.name


# --- a tenant in dedicated mode ----------------------------------------------------------
def test_dedicated_mode_has_its_own_server_sized_by_plan_and_encrypted_with_tenant_key(
        dedicated_run: ProgramRun) -> None:
    instance = dedicated_run.named("initech-db-server-instance")
    plan = PLANS["enterprise"].database
    key = arn_of(dedicated_run, "initech-db-key")
    assert {k: instance.inputs[k] for k in (
        "identifier", "instanceClass", "allocatedStorage", "backupRetentionPeriod", "kmsKeyId",
        "performanceInsightsKmsKeyId", "masterUserSecretKmsKeyId", "multiAz", "publiclyAccessible",
        "iamDatabaseAuthenticationEnabled", "deletionProtection", "skipFinalSnapshot",
        "finalSnapshotIdentifier")} == {
        "identifier": "tp-prod-initech-db", "instanceClass": plan.instance_class,
        "allocatedStorage": plan.allocated_storage_gib, "backupRetentionPeriod": plan.backup_retention_days,
        "kmsKeyId": key, "performanceInsightsKmsKeyId": key, "masterUserSecretKmsKeyId": key,
        "multiAz": True, "publiclyAccessible": False, "iamDatabaseAuthenticationEnabled": True,
        "deletionProtection": True, "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "tp-prod-initech-db-final"}
    assert instance.inputs["tags"]["tenant"] == "initech" and instance.inputs["tags"]["tier"] == "cluster"
    assert instance.options["protect"] and instance.options["retainOnDelete"]


def test_dedicated_proxy_has_only_the_tenant_secret_and_the_policy_uses_its_id(
        dedicated_run: ProgramRun) -> None:
    proxy = dedicated_run.named("initech-db-server-proxy")
    assert proxy.inputs["requireTls"] is True and proxy.inputs["debugLogging"] is False
    assert proxy.inputs["auths"] == [{
        "authScheme": "SECRETS", "iamAuth": "REQUIRED", "clientPasswordAuthType": "POSTGRES_SCRAM_SHA_256",
        "secretArn": arn_of(dedicated_run, "initech-db-secret"), "description": "tenant initech"}]
    prx = proxy_resource_id(str(proxy.outputs["arn"]))
    assert policy(dedicated_run.named("initech-db-connect"))["Statement"][0]["Resource"] == (
        f"arn:aws:rds-db:{REGION}:{ACCOUNT_ID}:dbuser:{prx}/{naming.db_login_role('initech')}")
    bootstrap = dedicated_run.named("initech-db-bootstrap").inputs
    assert bootstrap["host"] == dedicated_run.named("initech-db-server-instance").outputs["address"]


def test_dedicated_security_groups(dedicated_run: ProgramRun) -> None:
    rules = {r.name: r.inputs["referencedSecurityGroupId"] for r in dedicated_run.resources
             if r.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"}
    assert rules == {"initech-db-server-instance-from-proxy": "tp-prod-initech-db-proxy-id",
                     "initech-db-server-instance-from-admin-0": "sg-runner",
                     "initech-db-server-instance-from-rotation": "tp-prod-initech-db-rotation-id",
                     "initech-db-server-proxy-from-nodes": "sg-nodes"}
    function = dedicated_run.named("initech-db-rotation-function").inputs["parameters"]
    assert function["vpcSecurityGroupIds"] == "tp-prod-initech-db-rotation-id"
    assert function["kmsKeyArn"] == arn_of(dedicated_run, "initech-db-key")


@pytest.mark.parametrize("run_name", ["cell", "dedicated"])
def test_data_bearing_resources_are_protected_and_retained(cell_run: ProgramRun, dedicated_run: ProgramRun,
                                                           run_name: str) -> None:
    run = cell_run if run_name == "cell" else dedicated_run
    data = [r for r in run.resources if r.type in (
        "aws:rds/instance:Instance", "aws:kms/key:Key", "aws:secretsmanager/secret:Secret")]
    assert data and all(r.options["protect"] and r.options["retainOnDelete"] for r in data)


# --- wiring errors and options -----------------------------------------------------------
def test_key_passed_in_is_used_and_none_is_created() -> None:
    def program() -> None:
        cluster = make_cluster_ref()
        cell = CellDatabase("cell-db", CellDatabaseArgs(names=CELL, cluster=cluster,
                                                        size=PLANS["starter"].database, tenant_ids=["acme"]))
        TenantDatabase("acme-db", TenantDatabaseArgs(
            ctx=make_context("acme"), cluster=cluster, mode="schema", cell=cell.ref,
            kms_key_arn="arn:aws:kms:ap-northeast-1:123456789012:key/given"))

    run = run_program(program)
    assert [k.name for k in run.of_type("aws:kms/key:Key")] == ["cell-db-key"]
    given = "arn:aws:kms:ap-northeast-1:123456789012:key/given"
    assert run.named("acme-db-secret").inputs["kmsKeyId"] == given
    assert run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []  # no workload roles given


def test_cell_without_tenants_has_no_proxy() -> None:
    def program() -> None:
        CellDatabase("cell-db", CellDatabaseArgs(names=CELL, cluster=make_cluster_ref(),
                                                 size=PLANS["starter"].database, tenant_ids=[]))

    run = run_program(program)
    assert run.of_type("aws:rds/proxy:Proxy") == []
    assert len(run.of_type("aws:rds/instance:Instance")) == 1


@pytest.mark.parametrize(("mode", "with_cell", "message"), [
    ("schema", False, "needs its cell's database"),
    ("dedicated", True, "has its own server"),
], ids=["schema-without-cell", "dedicated-with-cell"])
def test_mode_and_cell_must_agree(mode: str, with_cell: bool, message: str) -> None:
    def program() -> None:
        cluster = make_cluster_ref()
        cell = CellDatabase("cell-db", CellDatabaseArgs(names=CELL, cluster=cluster,
                                                        size=PLANS["starter"].database, tenant_ids=["acme"]))
        try:
            TenantDatabase("acme-db", TenantDatabaseArgs(ctx=make_context("acme"), cluster=cluster,
                                                         mode=mode,  # type: ignore[arg-type]
                                                         cell=cell.ref if with_cell else None))
        finally:
            cell.ref.auths.add("acme", "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:x")

    with pytest.raises(Exception, match=message):
        run_program(program)


def test_proxy_auth_collector_rejects_strangers_and_duplicates() -> None:
    def program() -> None:
        collector = ProxyAuthCollector(["acme"])
        with pytest.raises(ValueError, match="not one of this cell's tenants"):
            collector.add("globex", "arn:x")
        collector.add("acme", "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:a")
        assert collector.complete
        with pytest.raises(ValueError, match="twice"):
            collector.add("acme", "arn:y")
        with pytest.raises(ValueError, match="duplicate"):
            ProxyAuthCollector(["acme", "acme"])

    run_program(program)


# --- wired into the program ------------------------------------------------------------
def test_program_gives_each_cell_tenant_a_schema_and_each_dedicated_tenant_a_server() -> None:
    stacks = {s.name: s for s in fleet_stacks(load_registry(FIXTURE_FLEET), environment="prod")}
    cell, dedicated = stacks["shared-f1"], stacks["tenant-delta"]
    run = run_program(lambda: build_stack(cell), stack=cell.name)
    ids = [t.id for t in cell.tenants]
    assert sorted(r.name for r in run.of_type("tenant-platform:index:TenantDatabase")) == sorted(
        f"{t}-db" for t in ids)
    (proxy,) = run.of_type("aws:rds/proxy:Proxy")
    assert [a["description"] for a in proxy.inputs["auths"]] == [f"tenant {t}" for t in ids]
    (instance,) = run.of_type("aws:rds/instance:Instance")
    assert instance.inputs["backupRetentionPeriod"] == max(t.plan.database.backup_retention_days
                                                           for t in cell.tenants)
    for t in cell.tenants:  # every enabled workload role may connect, as its tenant's user
        attached = {r.inputs["role"] for r in run.resources
                    if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
                    and r.name.startswith(f"{t.id}-db-connect-")}
        assert attached and attached == {r.inputs["name"] for r in run.of_type("aws:iam/role:Role")
                            if r.inputs.get("tags", {}).get("tenant") == t.id
                            and r.inputs["name"] in {f"tp-prod-{t.id}-{w}" for w in WORKLOADS}}
    run = run_program(lambda: build_stack(dedicated), stack=dedicated.name)
    instances = [r.inputs["identifier"] for r in run.of_type("aws:rds/instance:Instance")]
    assert instances == ["tp-prod-delta-db"]
    assert len(run.of_type("aws:rds/proxy:Proxy")) == 1
