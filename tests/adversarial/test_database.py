"""Careless one-line changes to the databases, their proxies and their secrets.

The rules that judge RDS itself (ISO-DATA-01/02/03), RDS Proxy (ISO-DATA-04) and the
tenants' database secrets and their rotation (ISO-DATA-07), in the cell's shared server
and in a dedicated tenant's own. Each mutation is what a reviewer could miss in a diff:
a flag flipped, a key or subnet group dropped, a CIDR instead of a security group, two
tenants' proxy auths sharing a secret, a rotation removed or slowed, and a connect
policy naming a neighbour's (opaque) database user (ISO-IAM-04).
"""

from __future__ import annotations

import pytest

from tenants import naming
from tests.adversarial.harness import (
    DEDICATED_STACK,
    DEDICATED_TENANT,
    OTHER,
    TENANT,
    Mutation,
    Resources,
    assert_check_fails,
    find,
    mutation,
    policy_document,
    set_policy_document,
)

INSTANCE = "aws:rds/instance:Instance"
PROXY = "aws:rds/proxy:Proxy"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


# --- ISO-DATA-01: not public, private subnet group ---------------------------------------------
@mutation("ISO-DATA-01", stack=DEDICATED_STACK)
def dedicated_instance_without_subnet_group(resources: Resources) -> str:
    db = find(resources, INSTANCE)
    del db["inputs"]["dbSubnetGroupName"]
    return str(db["name"])


@mutation("ISO-DATA-01", stack=DEDICATED_STACK)
def dedicated_instance_made_public(resources: Resources) -> str:
    db = find(resources, INSTANCE)
    db["inputs"]["publiclyAccessible"] = True
    return str(db["name"])


# --- ISO-DATA-02: encrypted with a customer-managed key ----------------------------------------
@mutation("ISO-DATA-02")
def cell_storage_unencrypted(resources: Resources) -> str:
    db = find(resources, INSTANCE)
    db["inputs"]["storageEncrypted"] = False
    return str(db["name"])


@mutation("ISO-DATA-02", stack=DEDICATED_STACK)
def dedicated_storage_on_the_aws_managed_key(resources: Resources) -> str:
    db = find(resources, INSTANCE)
    db["inputs"]["kmsKeyId"] = "alias/aws/rds"
    return str(db["name"])


@mutation("ISO-DATA-02")
def performance_insights_on_the_aws_managed_key(resources: Resources) -> str:
    db = find(resources, INSTANCE)
    db["inputs"]["performanceInsightsKmsKeyId"] = "alias/aws/rds"
    return str(db["name"])


# --- ISO-DATA-03: IAM authentication, groups not CIDRs ------------------------------------------
@mutation("ISO-DATA-03")
def cell_iam_authentication_off(resources: Resources) -> str:
    db = find(resources, INSTANCE)
    db["inputs"]["iamDatabaseAuthenticationEnabled"] = False
    return str(db["name"])


@mutation("ISO-DATA-03")
def instance_admits_the_vpc_cidr_instead_of_the_proxy_group(resources: Resources) -> str:
    rule = next(r for r in resources if r["type"] == INGRESS and r["name"].endswith("-instance-from-proxy"))
    del rule["inputs"]["referencedSecurityGroupId"]
    rule["inputs"]["cidrIpv4"] = "10.0.0.0/16"
    return str(rule["name"])


@mutation("ISO-DATA-03", stack=DEDICATED_STACK)
def dedicated_proxy_admits_everything_on_all_ports(resources: Resources) -> str:
    rule = next(r for r in resources if r["type"] == INGRESS and r["name"].endswith("-proxy-from-nodes"))
    del rule["inputs"]["referencedSecurityGroupId"]
    rule["inputs"].update(cidrIpv4="0.0.0.0/0", ipProtocol="-1")
    return str(rule["name"])


# --- ISO-DATA-04: the proxy ---------------------------------------------------------------------
@mutation("ISO-DATA-04")
def cell_proxy_without_tls(resources: Resources) -> str:
    proxy = find(resources, PROXY)
    proxy["inputs"]["requireTls"] = False
    return str(proxy["name"])


@mutation("ISO-DATA-04")
def cell_proxy_debug_logging(resources: Resources) -> str:
    proxy = find(resources, PROXY)
    proxy["inputs"]["debugLogging"] = True
    return str(proxy["name"])


@mutation("ISO-DATA-04")
def one_tenant_auth_without_iam(resources: Resources) -> str:
    proxy = find(resources, PROXY)
    proxy["inputs"]["auths"][-1]["iamAuth"] = "DISABLED"
    return str(proxy["name"])


@mutation("ISO-DATA-04")
def two_tenants_share_one_secret(resources: Resources) -> str:
    proxy = find(resources, PROXY)
    auths = proxy["inputs"]["auths"]
    auths[1]["secretArn"] = auths[0]["secretArn"]
    return str(proxy["name"])


@mutation("ISO-DATA-04", stack=DEDICATED_STACK)
def dedicated_proxy_without_security_groups(resources: Resources) -> str:
    proxy = find(resources, PROXY)
    proxy["inputs"]["vpcSecurityGroupIds"] = []
    return str(proxy["name"])


# --- ISO-DATA-07: secrets: tenant key, tight policy, rotation -----------------------------------
@mutation("ISO-DATA-07")
def rotation_of_one_tenant_removed(resources: Resources) -> str:
    rotation = find(resources, ROTATION, f"{TENANT}-db-rotation")
    resources.remove(rotation)
    return f"{TENANT}-db-secret"


@mutation("ISO-DATA-07")
def rotation_slowed_to_a_year(resources: Resources) -> str:
    rotation = find(resources, ROTATION, f"{OTHER}-db-rotation")
    rotation["inputs"]["rotationRules"] = {"automaticallyAfterDays": 365}
    return str(rotation["name"])


@mutation("ISO-DATA-07", stack=DEDICATED_STACK)
def dedicated_secret_on_the_aws_managed_key(resources: Resources) -> str:
    secret = find(resources, SECRET, f"{DEDICATED_TENANT}-db-secret")
    secret["inputs"]["kmsKeyId"] = "alias/aws/secretsmanager"
    return str(secret["name"])


@mutation("ISO-DATA-07")
def secret_policy_lets_anyone_read(resources: Resources) -> str:
    policy = find(resources, SECRET_POLICY, f"{TENANT}-db-secret-policy")
    document = policy_document(policy)
    document["Statement"][-1]["Principal"] = "*"
    set_policy_document(policy, document)
    return str(policy["name"])


# --- ISO-IAM-04: a tenant's connect policy names another tenant's (opaque) database user ------
@mutation("ISO-IAM-04")
def connect_policy_names_the_neighbours_database_user(resources: Resources) -> str:
    """The user names are opaque hashes; the policy pack ties them to tenants by tenants.naming."""
    policy = find(resources, "aws:iam/policy:Policy", f"{TENANT}-db-connect")
    document = policy_document(policy)
    statement = document["Statement"][0]
    statement["Resource"] = statement["Resource"].rsplit("/", 1)[0] + "/" + naming.db_login_role(OTHER)
    set_policy_document(policy, document)
    return str(policy["name"])


MUTATIONS: list[Mutation] = [
    dedicated_instance_without_subnet_group, dedicated_instance_made_public,
    cell_storage_unencrypted, dedicated_storage_on_the_aws_managed_key,
    performance_insights_on_the_aws_managed_key,
    cell_iam_authentication_off, instance_admits_the_vpc_cidr_instead_of_the_proxy_group,
    dedicated_proxy_admits_everything_on_all_ports,
    cell_proxy_without_tls, cell_proxy_debug_logging, one_tenant_auth_without_iam,
    two_tenants_share_one_secret,
    dedicated_proxy_without_security_groups,
    rotation_of_one_tenant_removed, rotation_slowed_to_a_year, dedicated_secret_on_the_aws_managed_key,
    secret_policy_lets_anyone_read, connect_policy_names_the_neighbours_database_user,
]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_gate_stops_database_mutation(fleet_plan, tmp_path, m):
    assert_check_fails(fleet_plan, m, tmp_path)
